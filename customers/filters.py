"""The customer filter every list, export, bulk action and dashboard drill-down shares.

One set of query parameters: ``q``, ``segment``, ``status``, ``channel``, ``rep``,
``manager`` (user id), ``blueprint`` (id of the agreed charter's blueprint), ``klass``
(class in the current economics run), ``flag`` (an open flag kind), ``unprofitable``
(1 = CLV below zero in the current run) and ``sort``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from urllib.parse import urlencode

from django.db.models import F, FilteredRelation, Q, QuerySet

SORTS = {
    "name": ("name", "pk"),
    "-clv": ("-current_clv", "name"),
    "clv": ("current_clv", "name"),
    "-annual_value": ("-current_annual_value", "name"),
    "role_fit": ("current_role_fit", "name"),
    "-acquired_on": ("-acquired_on", "name"),
}


# The current run's figures each listed customer carries, as ``current_<name>``.
FIGURES = ["revenue", "gross_margin", "profit_to_date", "annual_value", "clv", "role_fit",
           "compliance", "klass", "p_alive"]  # fmt: skip


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class CustomerFilter:
    q: str = ""
    segment: str = ""
    status: str = ""
    channel: str = ""
    rep: str = ""
    manager: int | None = None
    blueprint: int | None = None
    klass: str = ""
    flag: str = ""
    unprofitable: bool = False
    sort: str = "name"

    @classmethod
    def from_query(cls, params) -> CustomerFilter:
        sort = params.get("sort", "name")
        return cls(
            q=params.get("q", "").strip()[:100],
            segment=params.get("segment", ""),
            status=params.get("status", ""),
            channel=params.get("channel", ""),
            rep=params.get("rep", ""),
            manager=_int(params.get("manager")),
            blueprint=_int(params.get("blueprint")),
            klass=params.get("klass", ""),
            flag=params.get("flag", ""),
            unprofitable=params.get("unprofitable") in ("1", "true", "on"),
            sort=sort if sort in SORTS else "name",
        )

    def is_active(self) -> bool:
        return any(
            getattr(self, f.name) not in ("", None, False) for f in fields(self) if f.name != "sort"
        )

    def querystring(self, **changes) -> str:
        values = {**asdict(self), **changes}
        return urlencode(
            {k: ("1" if v is True else v) for k, v in values.items() if v not in ("", None, False)}
        )

    def as_pairs(self) -> list[tuple[str, str]]:
        """The filter as (name, value) pairs, for hidden form fields."""
        return [tuple(p.split("=", 1)) for p in self.querystring().split("&") if p]

    def apply(self, qs: QuerySet, *, figures: bool = True) -> QuerySet:
        """Filter and annotate customers with the current run's figures, and sort.
        ``figures=False``: the same customers, unsorted and without the figures (what
        counting them needs: no join to the run's scores)."""
        from economics.models import CustomerScore
        from economics.selectors import current_run

        if self.q:
            qs = qs.filter(Q(name__icontains=self.q) | Q(external_id__icontains=self.q))
        for field, value in [
            ("segment", self.segment),
            ("status", self.status),
            ("acquisition_channel", self.channel),
            ("sales_rep", self.rep),
        ]:
            if value:
                qs = qs.filter(**{field: value})
        if self.manager:
            qs = qs.filter(account_manager_id=self.manager)
        if self.blueprint:
            qs = qs.filter(pk__in=_charter_customers().filter(blueprint_id=self.blueprint))
        if self.flag:
            qs = qs.filter(pk__in=_flagged_customers(self.flag))
        run = current_run()
        if run is not None:
            if figures:
                # One join to the run's score row (a customer has at most one per run),
                # not a subquery per figure and per customer.
                qs = qs.annotate(
                    current_score=FilteredRelation("scores", condition=Q(scores__run=run))
                ).annotate(**{f"current_{name}": F(f"current_score__{name}") for name in FIGURES})
            if self.klass:
                qs = qs.filter(pk__in=CustomerScore.objects.filter(run=run, klass=self.klass)
                               .values("customer_id"))  # fmt: skip
            if self.unprofitable:
                qs = qs.filter(pk__in=CustomerScore.objects.filter(run=run, clv__lt=0)
                               .values("customer_id"))  # fmt: skip
            return qs.order_by(*SORTS[self.sort]) if figures else qs.order_by()
        if self.klass or self.unprofitable:
            return qs.none()
        if not figures:
            return qs.order_by()
        order = SORTS[self.sort] if self.sort in ("name", "-acquired_on") else SORTS["name"]
        return qs.order_by(*order)


def _charter_customers():
    from roles.models import Charter

    return Charter.objects.filter(status=Charter.Status.AGREED).values("customer_id")


def _flagged_customers(kind: str):
    from economics.models import CustomerFlag

    return CustomerFlag.objects.filter(status=CustomerFlag.Status.OPEN, kind=kind).values(
        "customer_id"
    )
