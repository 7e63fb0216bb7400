"""The worklist's filter: the shared customer filter (search, segment, account manager,
class) plus what only the worklist asks — flag kind, case status, whether snoozed and
dismissed flags show — and the worklist's own sorts. Query parameters: ``q``,
``segment``, ``manager``, ``klass``, ``flag``, ``case``, ``hidden`` and ``sort``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from urllib.parse import urlencode

from django.db.models import F

from customers.filters import CustomerFilter
from economics.models import CustomerClass, FlagKind

from .models import Case

NO_CASE = "none"
AWAITING_APPROVAL = "awaiting_approval"
CASE_CHOICES = [
    (NO_CASE, "No case yet"),
    (Case.Status.OPEN, "Case open"),
    (Case.Status.UNDER_REVIEW, "Under review"),
    (Case.Status.DECIDED, "Decided"),
    (AWAITING_APPROVAL, "Let-go awaiting approval"),
    (Case.Status.DONE, "Case done"),
]


def _by(name: str, descending: bool = False) -> tuple:
    key = F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
    return (key, "name", "pk")


# Biggest losses first by default: that is where a decision pays most.
SORTS = {
    "clv": _by("current_clv"),
    "-clv": _by("current_clv", descending=True),
    "annual_value": _by("current_annual_value"),
    "-annual_value": _by("current_annual_value", descending=True),
    "p_alive": _by("current_p_alive"),
    "-p_alive": _by("current_p_alive", descending=True),
    "-flags": _by("flag_count", descending=True),
    "flags": _by("flag_count"),
    "name": ("name", "pk"),
    "-name": ("-name", "-pk"),
}
DEFAULT_SORT = "clv"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class WorklistFilter:
    q: str = ""
    segment: str = ""
    manager: int | None = None
    klass: str = ""
    flag: str = ""
    case: str = ""
    hidden: bool = False
    sort: str = DEFAULT_SORT

    @classmethod
    def from_query(cls, params) -> WorklistFilter:
        klass, flag, case = params.get("klass", ""), params.get("flag", ""), params.get("case", "")
        sort = params.get("sort", DEFAULT_SORT)
        return cls(
            q=params.get("q", "").strip()[:100],
            segment=params.get("segment", "")[:80],
            manager=_int(params.get("manager")),
            klass=klass if klass in CustomerClass.values else "",
            flag=flag if flag in FlagKind.values else "",
            case=case if case in dict(CASE_CHOICES) else "",
            hidden=params.get("hidden") in ("1", "true", "on"),
            sort=sort if sort in SORTS else DEFAULT_SORT,
        )

    def customer_filter(self) -> CustomerFilter:
        """The part the customer list shares."""
        return CustomerFilter(
            q=self.q, segment=self.segment, manager=self.manager, klass=self.klass
        )

    def is_active(self) -> bool:
        return any(
            getattr(self, f.name) not in ("", None, False)
            for f in fields(self)
            if f.name not in ("sort", "hidden")
        )

    def querystring(self, **changes) -> str:
        values = {**asdict(self), **changes}
        if values.get("sort") == DEFAULT_SORT:
            values["sort"] = ""
        return urlencode(
            {k: ("1" if v is True else v) for k, v in values.items() if v not in ("", None, False)}
        )

    def as_pairs(self) -> list[tuple[str, str]]:
        """The filter as (name, value) pairs, for hidden form fields."""
        return [tuple(p.split("=", 1)) for p in self.querystring().split("&") if p]

    def sort_link(self, key: str) -> str:
        """The querystring that sorts by ``key``, flipping the direction when the list
        is already sorted by it."""
        descending_first = key in ("flags", "annual_value")
        first, second = (f"-{key}", key) if descending_first else (key, f"-{key}")
        return self.querystring(sort=second if self.sort == first else first)

    def sort_arrow(self, key: str) -> str:
        if self.sort == key:
            return "↑"
        if self.sort == f"-{key}":
            return "↓"
        return ""

    def sort_headers(self) -> dict[str, dict[str, str]]:
        """For each sortable column, the link that sorts by it and the current arrow."""
        return {
            key: {"qs": self.sort_link(key), "arrow": self.sort_arrow(key)}
            for key in ("name", "clv", "annual_value", "p_alive", "flags")
        }
