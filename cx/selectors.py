"""Reads of the CX workflow: the worklist, its headline and a case's page. No side
effects; the figures come from the current economics run, never recomputed."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from array import array
from collections.abc import Callable, Iterator
from typing import TypeVar

from django.core.cache import cache
from django.db import connection
from django.db.models import (
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.personas import Persona
from accounts.selectors import account_managers
from customers.models import Customer
from economics.models import CustomerFlag, FlagKind
from economics.selectors import latest_score

from . import triggers
from .filters import AWAITING_APPROVAL, NO_CASE, SORTS, WorklistFilter
from .models import Case, WorklistChange

T = TypeVar("T")

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


def _worklist_kinds(flags: QuerySet, kind: str) -> tuple[Exists, Exists]:
    """Whether a customer has a flag to look at (of ``kind``), and a case in progress."""
    theirs = flags.filter(customer=OuterRef("pk"))
    if kind:
        theirs = theirs.filter(kind=kind)
    return Exists(theirs), Exists(Case.objects.in_progress().filter(customer=OuterRef("pk")))


def _on_worklist(qs: QuerySet, flags: QuerySet, kind: str) -> QuerySet:
    """A customer is on the worklist with a flag to look at (released customers are
    past that), or with a case in progress; with a flag kind asked for, with a flag of
    that kind either way. Asked of each customer (``EXISTS``), so that a page read in
    the order of an index stops at its last row."""
    flagged, working = _worklist_kinds(flags, kind)
    released = Q(status=Customer.Status.RELEASED)
    if kind:
        return qs.filter(flagged, ~released | working)
    return qs.filter((flagged & ~released) | working)


def _worklist_count(qs: QuerySet, flags: QuerySet, kind: str, version: Callable) -> int:
    """How many customers of ``qs`` are on the worklist, counted the cheap way: the
    flagged ones as one semi-join of the customers with their flags, plus those only a
    case in progress puts on it (few, found from the cases)."""
    flagged, working = _worklist_kinds(flags, kind)
    released = Q(status=Customer.Status.RELEASED)
    counts = [qs.filter(flagged).filter(~released | working)]
    if not kind:
        counts.append(qs.filter(working).exclude(flagged))
    return _kept(
        "count",
        [q.query.sql_with_params() for q in counts],
        lambda: sum(q.count() for q in counts),
        version,
    )


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


# --- figures kept until the worklist's tables change ----------------------------------

KEPT_SECONDS = 60 * 60


def worklist_version() -> tuple | None:
    """Where the customers, flags and cases stand: per table, the changes recorded, the
    last record and the sum of the records' random stamps (``WorklistChange``, kept by
    database triggers). None where no trigger keeps it (a database other than
    PostgreSQL or SQLite): nothing is cached there."""
    if connection.vendor not in triggers.SUPPORTED:
        return None
    rows = (
        WorklistChange.objects.order_by("source")
        .values("source")
        .annotate(n=Sum("changes"), last=Max("pk"), stamps=Sum("stamp"))
        .values_list("source", "n", "last", "stamps")
    )
    return tuple((source, int(n), last, int(stamps)) for source, n, last, stamps in rows)


def _kept(
    name: str,
    query: object,
    compute: Callable[[], T],
    version: Callable[[], tuple | None] = worklist_version,
) -> T:
    """``compute()``, cached under ``query`` (the SQL and parameters it answers: the
    run, the day, who asks, the filter and the sort are all in there) until any of the
    customers, flags or cases change. The version is read before computing: a change
    committed meanwhile leaves a newer figure under the older version, never the
    reverse. ``version``: where the tables stand, as one page read it once."""
    stands = version()
    if stands is None:
        return compute()
    digest = hashlib.sha256(repr((connection.alias, query)).encode()).hexdigest()
    key = f"cx:worklist:{name}:{digest}"
    kept = cache.get(key)
    if kept is not None and kept[0] == stands:
        return kept[1]
    value = compute()
    cache.set(key, (stands, value), KEPT_SECONDS)
    return value


# --- the worklist ---------------------------------------------------------------------


class Worklist:
    """The worklist in its order, read a page at a time (what a ``Paginator`` needs:
    ``count()`` and slices; iterating reads it all).

    Sorted by CLV or by name, a page is read along an index (the run's scores by CLV,
    the customers by name), and the query stops after the page's last row: the
    customers with a value first, then, in a second query only the last pages reach,
    those without one (no score in the current run), by name. That walk passes over
    the customers not on the list too: about ``stop × customers / on the list`` rows
    to reach row ``stop``. Where that is more than ``WALK_ROWS`` (a deep page, a filter
    few customers pass) and for the sorts no index serves, the whole order is read
    once, as customer ids, and a page fetches its rows by id. The count, the number of
    customers and the order are cached until the customers, flags or cases change."""

    WALK_ROWS = 5_000

    def __init__(
        self,
        rows: QuerySet,
        parts: list[QuerySet] | None,
        count: Callable[[], int],
        customers: Callable[[], int],
        version: Callable[[], tuple | None],
    ):
        self.rows = rows  # the whole list, in order: what the parts or the ids stand for
        self.parts = parts
        self._count = count
        self._customers = customers
        self._total: int | None = None
        self._order: array | None = None
        self.version = version

    def count(self) -> int:
        if self._total is None:
            self._total = len(self._ids()) if self.parts is None else self._count()
        return self._total

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Customer]:
        return iter(self[0 : self.count()])

    def __getitem__(self, index: int | slice):
        if isinstance(index, int):
            if index < 0:
                raise IndexError("The worklist reads forwards only.")
            rows = self[index : index + 1]
            if not rows:
                raise IndexError("Past the end of the worklist.")
            return rows[0]
        start, stop = index.start or 0, index.stop
        if index.step not in (None, 1) or start < 0 or stop is None or stop < 0:
            raise ValueError("The worklist is read in pages: [start:stop].")
        if stop <= start or self.count() == 0:
            return []
        if self.parts is not None and self._walk_reads_few_rows(stop):
            return self._from_parts(start, stop)
        return self._by_ids(self._ids()[start:stop])

    def _walk_reads_few_rows(self, stop: int) -> bool:
        on_list = self.count()
        return stop * self._customers() <= self.WALK_ROWS * on_list

    def _ids(self) -> array:
        if self._order is None:
            rows = self.rows
            self._order = _kept(
                "order",
                rows.query.sql_with_params(),
                lambda: array("q", rows.values_list("pk", flat=True)),
                self.version,
            )
        return self._order

    def _by_ids(self, ids) -> list[Customer]:
        found = {c.pk: c for c in self.rows.filter(pk__in=list(ids)).order_by()}
        return [found[pk] for pk in ids if pk in found]

    def _from_parts(self, start: int, stop: int) -> list[Customer]:
        rows: list[Customer] = []
        offset = start  # into the current part
        for i, part in enumerate(self.parts):
            want = stop - start - len(rows)
            got = list(part[offset : offset + want])
            rows += got
            if len(rows) == stop - start or i == len(self.parts) - 1:
                break
            # The page runs past this part: go on in the next one.
            size = (
                offset + len(got)
                if got
                else _kept("count", part.query.sql_with_params(), part.count, self.version)
            )
            offset = max(offset - size, 0)
        return rows


def worklist(
    *, user, filters: WorklistFilter | None = None, today: dt.date | None = None
) -> Worklist:
    """The customers to work on, filtered and sorted, each with the current run's
    figures, the number of flags, its open flags and its cases (prefetched: a page of
    the worklist takes the same number of queries whatever its length)."""
    filters = filters or WorklistFilter()
    today = today or timezone.localdate()
    flags = worklist_flags(today=today, hidden=filters.hidden)
    qs = filters.customer_filter().apply(Customer.objects.visible_to(user).for_list())
    scored = "current_clv" in qs.query.annotations
    if not scored:  # no economics run yet
        qs = qs.annotate(**{name: Value(None, output_field=f) for name, f in FIGURES.items()})
    qs = _case_filter(qs, filters.case)
    chosen = qs  # before the worklist's own condition: what the count starts from
    count = (
        flags.filter(customer=OuterRef("pk"))
        .order_by()
        .values("customer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    qs = (
        _on_worklist(qs, flags, filters.flag)
        .annotate(flag_count=Coalesce(Subquery(count, output_field=IntegerField()), 0))
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
    )
    visible = Customer.objects.visible_to(user).order_by()
    version = functools.cache(worklist_version)  # read once for the page
    return Worklist(
        qs.order_by(*SORTS[filters.sort]),
        _walks(qs, filters.sort, scored),
        count=lambda: _worklist_count(chosen.order_by(), flags, filters.flag, version),
        customers=lambda: _kept(
            "customers", visible.query.sql_with_params(), visible.count, version
        ),
        version=version,
    )


def _walks(qs: QuerySet, sort: str, scored: bool) -> list[QuerySet] | None:
    """The worklist sorted by ``sort`` as parts each read along an index, or None for a
    sort no index serves. By CLV: the customers with a score, by CLV then name, then
    those without one, by name (where the sort puts them: last, either way)."""
    if sort in ("name", "-name"):
        return [qs.order_by(*SORTS[sort])]
    if sort not in ("clv", "-clv"):
        return None
    unscored = qs.filter(current_clv__isnull=True).order_by("name", "pk")
    if not scored:
        return [unscored]
    clv = F("current_clv").desc() if sort.startswith("-") else F("current_clv").asc()
    return [qs.filter(current_clv__isnull=False).order_by(clv, "name", "pk"), unscored]


def worklist_choices() -> dict:
    """The values the worklist's filters offer."""
    from customers.selectors import segments

    return {
        "segments": _kept("segments", "segments", segments),  # a scan of the customers
        "managers": list(account_managers().values_list("pk", "first_name", "last_name")),
    }


def worklist_headline(*, user, today: dt.date | None = None) -> dict:
    """What the CX home shows above the rest: the flags waiting by kind, the cases by
    status, and how many customers are on the worklist."""
    today = today or timezone.localdate()
    visible = Customer.objects.visible_to(user)
    waiting = (
        worklist_flags(today=today)
        .filter(customer__in=visible)
        .exclude(customer__status=Customer.Status.RELEASED)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("pk"))
    )
    flag_counts = _kept("flags", waiting.query.sql_with_params(), lambda: dict(waiting))
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
