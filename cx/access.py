"""Who may see and work the worklist and cases, in one place.

The CX team and admins work cases. Executives read everything and approve or reject a
let-go. An account manager reads the cases of their own customers. Nobody else. Someone
who may not see a case gets 404; someone who may see it but not do this gets 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404

from accounts.personas import Persona, has_persona

from .models import Case

WORKERS = (Persona.CX, Persona.ADMIN)
WORKLIST_READERS = (Persona.CX, Persona.ADMIN, Persona.EXECUTIVE)
CASE_READERS = (*WORKLIST_READERS, Persona.ACCOUNT_MANAGER)
APPROVERS = (Persona.EXECUTIVE,)


def can_work_cases(user) -> bool:
    return has_persona(user, *WORKERS)


def can_approve_let_go(user, case: Case) -> bool:
    """An executive who did not propose it, while a let-go awaits approval."""
    return has_persona(user, *APPROVERS) and case.awaits_approval and case.decided_by_id != user.pk


def get_case_for_user(user, pk: int, *, write: bool = False) -> Case:
    case = get_object_or_404(
        Case.objects.visible_to(user).select_related(
            "customer",
            "customer__account_manager",
            "assignee",
            "opened_by",
            "decided_by",
            "approved_by",
            "closed_by",
        ),
        pk=pk,
    )
    if write and not can_work_cases(user):
        raise PermissionDenied
    return case
