"""Reads of the CX workflow: the worklist, its headline and a case's page. No side
effects; the figures come from the current economics run, never recomputed."""

from __future__ import annotations

import datetime as dt

from django.db.models import (
    CharField,
    Count,
    DecimalField,
    Exists,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.personas import Persona
from accounts.selectors import account_managers
from customers.models import Customer
from economics.models import CustomerFlag, FlagKind
from economics.selectors import latest_score

from .filters import AWAITING_APPROVAL, NO_CASE, SORTS, WorklistFilter
from .models import Case

FIGURES = {
    "current_clv": DecimalField(max_digits=14, decimal_places=2),
    "current_annual_value": DecimalField(max_digits=14, decimal_places=2),
    "current_p_alive": FloatField(),
    "current_klass": CharField(),
}


def worklist_flags(*, today: dt.date | None = None, hidden: bool = False) -> QuerySet:
    """The open flags that put a customer on the worklist. A snoozed flag stays off it
    until its date; a dismissed one stays off it (``hidden`` shows both)."""
    flags = CustomerFlag.objects.filter(status=CustomerFlag.Status.OPEN)
    if hidden:
        return flags
    today = today or timezone.localdate()
    return flags.exclude(decision=CustomerFlag.Decision.DISMISSED).exclude(
        decision=CustomerFlag.Decision.SNOOZED, snoozed_until__gt=today
    )


def _on_worklist(qs: QuerySet, flags: QuerySet, kind: str) -> QuerySet:
    """A customer is on the worklist with a flag to look at (released customers are
    past that), or with a case in progress. One semi-join on a union of customer ids:
    an OR of two ``IN`` lists makes PostgreSQL probe every customer once the lists
    outgrow its working memory (minutes at a million customers)."""
    working = Case.objects.in_progress().order_by().values("customer_id")
    flagged = (flags.filter(kind=kind) if kind else flags).order_by().values("customer_id")
    to_look_at = flagged.exclude(customer__status=Customer.Status.RELEASED)
    if kind:
        ids = to_look_at.union(flagged.filter(customer_id__in=working))
    else:
        ids = to_look_at.union(working)
    return qs.filter(pk__in=ids)


def _case_filter(qs: QuerySet, case: str) -> QuerySet:
    if not case:
        return qs
    if case == NO_CASE:
        return qs.filter(~Exists(Case.objects.filter(customer=OuterRef("pk"))))
    if case == AWAITING_APPROVAL:
        pending = Case.objects.filter(status=Case.Status.DECIDED, approval=Case.Approval.PENDING)
        return qs.filter(pk__in=pending.values("customer_id"))
    if case == Case.Status.DONE:
        # Only finished cases: nothing in progress, and at least one done.
        return qs.filter(
            Exists(Case.objects.filter(customer=OuterRef("pk"), status=Case.Status.DONE))
        ).exclude(pk__in=Case.objects.in_progress().values("customer_id"))
    return qs.filter(pk__in=Case.objects.filter(status=case).values("customer_id"))


def worklist(
    *, user, filters: WorklistFilter | None = None, today: dt.date | None = None
) -> QuerySet[Customer]:
    """The customers to work on, filtered and sorted, each with the current run's
    figures, the number of flags, its open flags and its cases (prefetched: a page of
    the worklist takes the same number of queries whatever its length)."""
    filters = filters or WorklistFilter()
    today = today or timezone.localdate()
    flags = worklist_flags(today=today, hidden=filters.hidden)
    qs = filters.customer_filter().apply(Customer.objects.visible_to(user).for_list())
    missing = {
        name: Value(None, output_field=f)
        for name, f in FIGURES.items()
        if name not in qs.query.annotations
    }
    if missing:  # no economics run yet
        qs = qs.annotate(**missing)
    qs = _on_worklist(qs, flags, filters.flag)
    qs = _case_filter(qs, filters.case)
    count = (
        flags.filter(customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        qs.annotate(flag_count=Coalesce(Subquery(count, output_field=IntegerField()), 0))
        .prefetch_related(
            Prefetch(
                "flags",
                queryset=CustomerFlag.objects.filter(status=CustomerFlag.Status.OPEN).order_by(
                    "kind"
                ),
                to_attr="open_flags",
            ),
            Prefetch(
                "cases",
                queryset=Case.objects.select_related("assignee").order_by("-opened_at", "-pk"),
                to_attr="case_list",
            ),
        )
        .order_by(*SORTS[filters.sort])
    )


def worklist_choices() -> dict:
    """The values the worklist's filters offer."""
    from customers.selectors import segments

    return {
        "segments": segments(),
        "managers": list(account_managers().values_list("pk", "first_name", "last_name")),
    }


def worklist_headline(*, user, today: dt.date | None = None) -> dict:
    """What the CX home shows above the rest: the flags waiting by kind, the cases by
    status, and how many customers are on the worklist."""
    today = today or timezone.localdate()
    visible = Customer.objects.visible_to(user)
    flag_counts = dict(
        worklist_flags(today=today)
        .filter(customer__in=visible)
        .exclude(customer__status=Customer.Status.RELEASED)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("pk"))
    )
    cases = Case.objects.visible_to(user)
    case_counts = dict(cases.in_progress().order_by().values_list("status").annotate(n=Count("pk")))
    return {
        "flags": [(kind, label, flag_counts.get(kind, 0)) for kind, label in FlagKind.choices],
        "flag_total": sum(flag_counts.values()),
        "cases": [
            (s, label, case_counts.get(s, 0))
            for s, label in Case.Status.choices
            if s != Case.Status.DONE
        ],
        "awaiting_approval": awaiting_approval(user=user),
        "done_last_30_days": cases.filter(
            status=Case.Status.DONE, closed_at__date__gt=today - dt.timedelta(days=30)
        ).count(),
        "customers": worklist(user=user, today=today).count(),
    }


def awaiting_approval(*, user) -> int:
    """How many let-go decisions wait for an executive."""
    return (
        Case.objects.visible_to(user)
        .filter(status=Case.Status.DECIDED, approval=Case.Approval.PENDING)
        .count()
    )


# --- a case ---------------------------------------------------------------------------


def case_detail(case: Case) -> dict:
    """Everything the case page shows."""
    from roles.selectors import current_charter

    customer = case.customer
    return {
        "case": case,
        "customer": customer,
        "score": latest_score(customer),
        "charter": current_charter(customer),
        "case_flags": list(case.flags.order_by("kind")),
        "open_flags": list(
            CustomerFlag.objects.filter(customer=customer, status=CustomerFlag.Status.OPEN)
            .select_related("decided_by")
            .order_by("kind")
        ),
        "events": list(case.events.select_related("by")),
        "checklist": list(case.checklist.select_related("done_by")),
        "other_cases": list(
            Case.objects.filter(customer=customer)
            .exclude(pk=case.pk)
            .select_related("assignee")
            .order_by("-opened_at")
        ),
    }


def cases_for_customer(customer: Customer) -> QuerySet[Case]:
    """A customer's cases, newest first (for pages that link to them)."""
    return (
        Case.objects.filter(customer=customer)
        .select_related("assignee")
        .order_by("-opened_at", "-pk")
    )


def case_workers():
    """Who can be assigned a case: the CX team and admins."""
    from accounts.models import User

    return (
        User.objects.filter(
            Q(groups__name__in=[Persona.CX.value, Persona.ADMIN.value]) | Q(is_superuser=True),
            is_active=True,
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
