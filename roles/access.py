"""Who may see and change blueprints and charters, in one place.

Blueprints: account managers and admins edit; executives and CX read.
Charters: an account manager edits the charters of their own customers, admins any;
executives and CX read. Someone who may not see a charter gets 404; someone who may
see it but not change it gets 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from accounts.personas import Persona, has_persona
from customers.models import Customer

from .models import Charter, RoleBlueprint

EDITORS = (Persona.ACCOUNT_MANAGER, Persona.ADMIN)


def can_edit_blueprints(user) -> bool:
    return has_persona(user, *EDITORS)


def can_edit_charters_of(user, customer: Customer) -> bool:
    if has_persona(user, Persona.ADMIN):
        return True
    return has_persona(user, Persona.ACCOUNT_MANAGER) and customer.account_manager_id == user.pk


def get_blueprint_for_user(user, pk: int, *, write: bool = False) -> RoleBlueprint:
    blueprint = get_object_or_404(RoleBlueprint, pk=pk)
    if write and not can_edit_blueprints(user):
        raise PermissionDenied
    return blueprint


def get_charter_for_user(user, pk: int, *, write: bool = False) -> Charter:
    charter = get_object_or_404(
        Charter.objects.visible_to(user).select_related(
            "customer", "customer__account_manager", "blueprint"
        ),
        pk=pk,
    )
    if write and not can_edit_charters_of(user, charter.customer):
        raise PermissionDenied
    return charter
