"""Writes of the CX workflow: cases, their transitions, the let-go approval, the exit
checklist and decisions on flags. Every change leaves a ``CaseEvent``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.personas import has_persona
from audit.services import audit_record
from customers.models import Customer
from economics import services as economics_services
from economics.models import CustomerFlag

from .access import APPROVERS, WORKERS
from .models import Case, CaseEvent, ExitChecklistItem

EXIT_STEPS = [
    ExitChecklistItem.Step.SETTLE_INVOICES,
    ExitChecklistItem.Step.HAND_OVER_TICKETS,
    ExitChecklistItem.Step.INFORM_ACCOUNT_MANAGER,
    ExitChecklistItem.Step.END_CHARTER,
    ExitChecklistItem.Step.EXPORT_HISTORY,
]


@dataclass
class BulkResult:
    """What a bulk action did: the customers it changed and those it skipped, with why."""

    done: list[Customer] = field(default_factory=list)
    skipped: list[tuple[Customer, str]] = field(default_factory=list)
    flags: int = 0


# --- helpers --------------------------------------------------------------------------


def _event(
    case: Case, *, user, action: str, before: str = "", what: str = "", note: str = ""
) -> CaseEvent:
    audit_record(
        action=f"case_{action}",
        actor=user,
        obj=case,
        detail={"from": before, "to": case.status, "what": what, "note": note},
    )
    return CaseEvent.objects.create(
        case=case,
        by=user,
        action=action,
        from_status=before,
        to_status=case.status,
        what=what[:300],
        note=note,
    )


def _require_worker(user) -> None:
    if not has_persona(user, *WORKERS):
        raise PermissionDenied("Only the CX team and admins work cases.")


def _locked(case: Case) -> Case:
    return Case.objects.select_for_update().select_related("customer").get(pk=case.pk)


def _require(case: Case, *statuses: str) -> None:
    if case.status not in statuses:
        labels = " or ".join(Case.Status(s).label.lower() for s in statuses)
        raise ValidationError(
            f"This case is {case.get_status_display().lower()}; it must be {labels}."
        )


def _name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user else "nobody"


# --- opening and assigning --------------------------------------------------------------


@transaction.atomic
def case_open(*, customer: Customer, user, assignee=None, note: str = "") -> Case:
    """A new case for the customer, linked to the flags open on it now. Refused while
    the customer has a case in progress."""
    _require_worker(user)
    Customer.objects.select_for_update().filter(pk=customer.pk).first()
    if Case.objects.filter(customer=customer).in_progress().exists():
        raise ValidationError(f"{customer.name} already has a case in progress.")
    if assignee is not None:
        _require_assignable(assignee)
    case = Case(customer=customer, opened_by=user, assignee=assignee)
    case.full_clean()
    try:
        with transaction.atomic():
            case.save()
    except IntegrityError as exc:  # another case was opened at the same moment
        raise ValidationError(f"{customer.name} already has a case in progress.") from exc
    flags = list(
        CustomerFlag.objects.filter(customer=customer, status=CustomerFlag.Status.OPEN).exclude(
            decision=CustomerFlag.Decision.DISMISSED
        )
    )
    case.flags.set(flags)
    kinds = ", ".join(f.get_kind_display().lower() for f in flags)
    what = f"For {kinds}" if kinds else "With no open flag"
    _event(case, user=user, action=CaseEvent.Action.OPENED, what=what, note=note)
    if assignee is not None:
        _event(
            case,
            user=user,
            action=CaseEvent.Action.ASSIGNED,
            before=case.status,
            what=_name(assignee),
        )
    return case


def cases_open(*, customers: Iterable[Customer], user) -> BulkResult:
    """Open a case for each customer; those with a case in progress are skipped."""
    customers = list(customers)
    busy = set(
        Case.objects.in_progress()
        .filter(customer__in=customers)
        .values_list("customer_id", flat=True)
    )
    result = BulkResult()
    for customer in customers:
        if customer.pk in busy:
            result.skipped.append((customer, "a case is already in progress"))
            continue
        try:
            case_open(customer=customer, user=user)
        except ValidationError as exc:
            result.skipped.append((customer, " ".join(exc.messages)))
        else:
            result.done.append(customer)
    return result


def _require_assignable(assignee) -> None:
    if not assignee.is_active or not has_persona(assignee, *WORKERS):
        raise ValidationError({"assignee": "Cases go to someone in the CX team or an admin."})


@transaction.atomic
def case_assign(*, case: Case, assignee, user) -> Case:
    _require_worker(user)
    case = _locked(case)
    _require(case, Case.Status.OPEN, Case.Status.UNDER_REVIEW, Case.Status.DECIDED)
    if assignee is not None:
        _require_assignable(assignee)
    if case.assignee_id == (assignee.pk if assignee else None):
        return case
    case.assignee = assignee
    case.full_clean()
    case.save(update_fields=["assignee", "updated_at"])
    what = _name(assignee) if assignee else "Nobody"
    _event(case, user=user, action=CaseEvent.Action.ASSIGNED, before=case.status, what=what)
    return case


def cases_assign(*, customers: Iterable[Customer], assignee, user) -> BulkResult:
    """Assign the case in progress of each customer; customers without one are skipped."""
    result = BulkResult()
    customers = list(customers)
    cases = {c.customer_id: c for c in Case.objects.in_progress().filter(customer__in=customers)}
    for customer in customers:
        case = cases.get(customer.pk)
        if case is None:
            result.skipped.append((customer, "no case in progress"))
            continue
        try:
            case_assign(case=case, assignee=assignee, user=user)
        except ValidationError as exc:
            result.skipped.append((customer, " ".join(exc.messages)))
        else:
            result.done.append(customer)
    return result


# --- the workflow -----------------------------------------------------------------------


@transaction.atomic
def case_start_review(*, case: Case, user, note: str = "") -> Case:
    _require_worker(user)
    case = _locked(case)
    _require(case, Case.Status.OPEN)
    case.status = Case.Status.UNDER_REVIEW
    if case.assignee_id is None:
        case.assignee = user
    case.full_clean()
    case.save(update_fields=["status", "assignee", "updated_at"])
    _event(
        case,
        user=user,
        action=CaseEvent.Action.REVIEW_STARTED,
        before=Case.Status.OPEN,
        note=note.strip(),
    )
    return case


@transaction.atomic
def case_decide(*, case: Case, decision: str, rationale: str, user) -> Case:
    """Record the decision and why. A let-go waits for an executive's approval."""
    _require_worker(user)
    case = _locked(case)
    _require(case, Case.Status.UNDER_REVIEW)
    if not decision or decision not in set(Case.Decision):
        raise ValidationError({"decision": "Choose a decision."})
    if not rationale.strip():
        raise ValidationError({"rationale": "Say why: the rationale is part of the decision."})
    case.status = Case.Status.DECIDED
    case.decision = decision
    case.rationale = rationale.strip()
    case.decided_by = user
    case.decided_at = timezone.now()
    let_go = decision == Case.Decision.LET_GO
    case.approval = Case.Approval.PENDING if let_go else case.approval
    case.full_clean()
    case.save(
        update_fields=[
            "status",
            "decision",
            "rationale",
            "decided_by",
            "decided_at",
            "approval",
            "updated_at",
        ]
    )
    what = case.get_decision_display()
    if let_go:
        what += " — awaiting an executive's approval"
    _event(
        case,
        user=user,
        action=CaseEvent.Action.DECIDED,
        before=Case.Status.UNDER_REVIEW,
        what=what,
        note=case.rationale,
    )
    return case


def _clear_decision(case: Case) -> None:
    case.status = Case.Status.UNDER_REVIEW
    case.decision = Case.Decision.NONE
    case.rationale = ""
    case.decided_by = None
    case.decided_at = None


@transaction.atomic
def case_reopen(*, case: Case, user, note: str = "") -> Case:
    """Back to review: the decision is withdrawn (it stays in the history). Not once a
    let-go was approved — the customer is already released."""
    _require_worker(user)
    case = _locked(case)
    _require(case, Case.Status.DECIDED)
    if case.is_released:
        raise ValidationError("The let-go was approved and the customer released.")
    previous = case.get_decision_display()
    _clear_decision(case)
    if case.approval == Case.Approval.PENDING:
        case.approval = Case.Approval.NONE
    case.full_clean()
    case.save(
        update_fields=[
            "status",
            "decision",
            "rationale",
            "decided_by",
            "decided_at",
            "approval",
            "updated_at",
        ]
    )
    _event(
        case,
        user=user,
        action=CaseEvent.Action.REOPENED,
        before=Case.Status.DECIDED,
        what=f"“{previous}” withdrawn",
        note=note.strip(),
    )
    return case


def _require_approver(case: Case, user) -> None:
    if not has_persona(user, *APPROVERS):
        raise PermissionDenied("Only an executive approves letting a customer go.")
    if case.decided_by_id == user.pk:
        raise PermissionDenied("Someone other than the proposer must approve letting go.")
    if not case.awaits_approval:
        raise ValidationError("This case has no let-go awaiting approval.")


@transaction.atomic
def case_approve_let_go(*, case: Case, user, note: str = "") -> Case:
    """An executive other than the proposer approves: the customer is released today
    and the exit checklist starts."""
    case = _locked(case)
    _require_approver(case, user)
    now = timezone.now()
    case.approval = Case.Approval.APPROVED
    case.approved_by = user
    case.approved_at = now
    case.full_clean()
    case.save(update_fields=["approval", "approved_by", "approved_at", "updated_at"])
    _event(
        case,
        user=user,
        action=CaseEvent.Action.APPROVED,
        before=case.status,
        note=note.strip(),
    )
    customer = Customer.objects.select_for_update().get(pk=case.customer_id)
    before = customer.get_status_display()
    if customer.status != Customer.Status.RELEASED:
        customer.status = Customer.Status.RELEASED
        customer.released_on = timezone.localdate()
        customer.full_clean()
        customer.save(update_fields=["status", "released_on", "updated_at"])
    _event(
        case,
        user=user,
        action=CaseEvent.Action.RELEASED,
        before=case.status,
        what=f"{before} → released on {customer.released_on:%Y-%m-%d}",
    )
    _checklist_create(case, customer)
    return case


def _checklist_create(case: Case, customer: Customer) -> None:
    from roles.models import Charter

    unpaid = customer.invoices.filter(paid_on__isnull=True).count()
    unresolved = customer.tickets.filter(resolved_at__isnull=True).count()
    manager = customer.account_manager
    charter = Charter.objects.filter(customer=customer, status=Charter.Status.AGREED).first()
    details = {
        ExitChecklistItem.Step.SETTLE_INVOICES: f"{unpaid} unpaid invoice{'s' * (unpaid != 1)}",
        ExitChecklistItem.Step.HAND_OVER_TICKETS: (
            f"{unresolved} unresolved ticket{'s' * (unresolved != 1)}"
        ),
        ExitChecklistItem.Step.INFORM_ACCOUNT_MANAGER: (
            _name(manager) if manager else "no account manager"
        ),
        ExitChecklistItem.Step.END_CHARTER: (
            f"{charter.blueprint}, version {charter.version}" if charter else "no agreed charter"
        ),
        ExitChecklistItem.Step.EXPORT_HISTORY: "orders, invoices, tickets, activities, feedback",
    }
    items = [
        ExitChecklistItem(case=case, step=step, position=i, detail=details[step])
        for i, step in enumerate(EXIT_STEPS)
    ]
    for item in items:
        item.full_clean(exclude=["case"])
    ExitChecklistItem.objects.bulk_create(items)


@transaction.atomic
def case_reject_let_go(*, case: Case, user, reason: str) -> Case:
    """An executive turns the let-go down: the case goes back to review, with why."""
    case = _locked(case)
    _require_approver(case, user)
    if not reason.strip():
        raise ValidationError({"reason": "Say why letting this customer go is turned down."})
    _clear_decision(case)
    case.approval = Case.Approval.REJECTED
    case.rejection_reason = reason.strip()
    case.full_clean()
    case.save(
        update_fields=[
            "status",
            "decision",
            "rationale",
            "decided_by",
            "decided_at",
            "approval",
            "rejection_reason",
            "updated_at",
        ]
    )
    _event(
        case,
        user=user,
        action=CaseEvent.Action.REJECTED,
        before=Case.Status.DECIDED,
        note=case.rejection_reason,
    )
    return case


@transaction.atomic
def checklist_item_tick(*, item: ExitChecklistItem, done: bool, user) -> ExitChecklistItem:
    _require_worker(user)
    case = _locked(item.case)
    _require(case, Case.Status.DECIDED)
    item = ExitChecklistItem.objects.select_for_update().get(pk=item.pk, case=case)
    if item.is_done == done:
        return item
    item.done_at = timezone.now() if done else None
    item.done_by = user if done else None
    item.full_clean(exclude=["case"])
    item.save(update_fields=["done_at", "done_by"])
    action = CaseEvent.Action.CHECKLIST_TICKED if done else CaseEvent.Action.CHECKLIST_UNTICKED
    _event(case, user=user, action=action, before=case.status, what=item.get_step_display())
    return item


@transaction.atomic
def case_close(*, case: Case, user, note: str = "") -> Case:
    """Done. A let-go is done once approved and its exit checklist complete."""
    _require_worker(user)
    case = _locked(case)
    _require(case, Case.Status.DECIDED)
    if case.decision == Case.Decision.LET_GO:
        if not case.is_released:
            raise ValidationError("A let-go is done only after an executive approved it.")
        left = case.checklist.filter(done_at__isnull=True).count()
        if left:
            raise ValidationError(
                f"{left} exit checklist item{'s' * (left != 1)} still to do before it is done."
            )
    case.status = Case.Status.DONE
    case.closed_by = user
    case.closed_at = timezone.now()
    case.full_clean()
    case.save(update_fields=["status", "closed_by", "closed_at", "updated_at"])
    _event(
        case,
        user=user,
        action=CaseEvent.Action.CLOSED,
        before=Case.Status.DECIDED,
        what=case.get_decision_display(),
        note=note.strip(),
    )
    return case


@transaction.atomic
def case_note_add(*, case: Case, note: str, user) -> CaseEvent:
    _require_worker(user)
    if not note.strip():
        raise ValidationError({"note": "Write the note."})
    case = _locked(case)
    return _event(
        case, user=user, action=CaseEvent.Action.NOTE, before=case.status, note=note.strip()
    )


# --- flags ------------------------------------------------------------------------------


def _describe_flag_decision(flag: CustomerFlag) -> str:
    what = f"{flag.get_kind_display()}: {flag.get_decision_display().lower()}"
    if flag.decision == CustomerFlag.Decision.SNOOZED:
        what += f" until {flag.snoozed_until:%Y-%m-%d}"
    return what


@transaction.atomic
def case_flag_decide(
    *,
    case: Case,
    flag: CustomerFlag,
    decision: str,
    user,
    reason: str = "",
    snoozed_until: dt.date | None = None,
) -> CustomerFlag:
    """A decision on one of the customer's open flags, taken from the case page; the
    case's history keeps it."""
    _require_worker(user)
    case = _locked(case)
    if flag.customer_id != case.customer_id:
        raise ValidationError("That flag belongs to another customer.")
    flag = economics_services.flag_decide(
        flag=flag, decision=decision, user=user, reason=reason, snoozed_until=snoozed_until
    )
    _event(
        case,
        user=user,
        action=CaseEvent.Action.FLAG_DECIDED,
        before=case.status,
        what=_describe_flag_decision(flag),
        note=flag.decision_reason,
    )
    return flag


def customers_flags_decide(
    *,
    customers: Iterable[Customer],
    decision: str,
    user,
    snoozed_until: dt.date | None = None,
) -> BulkResult:
    """Accept or snooze the open flags of many customers. A flag someone dismissed keeps
    its dismissal, and one already carrying this decision is left alone; a customer with
    no flag left to decide is skipped. The case in progress, if any, records it."""
    _require_worker(user)
    if decision not in (CustomerFlag.Decision.ACCEPTED, CustomerFlag.Decision.SNOOZED):
        raise ValidationError("In bulk, flags are accepted or snoozed.")
    if decision == CustomerFlag.Decision.SNOOZED and (
        snoozed_until is None or snoozed_until <= timezone.localdate()
    ):
        raise ValidationError({"snoozed_until": "Snooze until a date in the future."})
    customers = list(customers)
    flags: dict[int, list[CustomerFlag]] = {}
    for flag in (
        CustomerFlag.objects.filter(customer__in=customers, status=CustomerFlag.Status.OPEN)
        .exclude(decision=CustomerFlag.Decision.DISMISSED)
        .order_by("pk")
    ):
        unchanged = flag.decision == decision and (
            decision != CustomerFlag.Decision.SNOOZED or flag.snoozed_until == snoozed_until
        )
        if not unchanged:
            flags.setdefault(flag.customer_id, []).append(flag)
    cases = {c.customer_id: c for c in Case.objects.in_progress().filter(customer__in=customers)}
    result = BulkResult()
    for customer in customers:
        mine = flags.get(customer.pk)
        if not mine:
            result.skipped.append((customer, "no open flag to decide"))
            continue
        with transaction.atomic():
            for flag in mine:
                economics_services.flag_decide(
                    flag=flag, decision=decision, user=user, snoozed_until=snoozed_until
                )
                flag.decision, flag.snoozed_until = decision, snoozed_until
            if customer.pk in cases:
                case = cases[customer.pk]
                _event(
                    case,
                    user=user,
                    action=CaseEvent.Action.FLAG_DECIDED,
                    before=case.status,
                    what="; ".join(_describe_flag_decision(f) for f in mine),
                )
        result.done.append(customer)
        result.flags += len(mine)
    return result
