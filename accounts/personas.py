"""The personas of the product and what each may use.

A persona is a Django group created by a data migration. A user may belong to more
than one; the first in ``Persona`` order decides the home page.
"""

from __future__ import annotations

from django.db import models


class Persona(models.TextChoices):
    ADMIN = "Admins", "Admin"
    EXECUTIVE = "Executives", "Executive"
    ACCOUNT_MANAGER = "Account managers", "Account manager"
    CX = "CX team", "CX analyst"
    INTEGRATOR = "Integrators", "Integrator"


def personas_of(user) -> set[Persona]:
    if not user.is_authenticated or not user.is_active:
        return set()
    cached = getattr(user, "_tango_personas", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = {p for p in Persona if p.value in names}
        if user.is_superuser:
            cached.add(Persona.ADMIN)
        user._tango_personas = cached
    return cached


def has_persona(user, *personas: Persona) -> bool:
    return bool(personas_of(user) & set(personas))


def primary_persona(user) -> Persona | None:
    mine = personas_of(user)
    return next((p for p in Persona if p in mine), None)


def sees_all_customers(user) -> bool:
    """Executives, CX and admins read every customer; an account manager only their own."""
    return has_persona(user, Persona.ADMIN, Persona.EXECUTIVE, Persona.CX)
