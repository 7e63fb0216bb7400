"""What the executive dashboard reads: the figures of a stored economics run, for the
customers a filter selects. No side effects, nothing recomputed from the history.

Every figure starts from the ``CustomerScore`` rows of a run, narrowed to the customers
of a ``CustomerFilter`` — the one the customer list uses, so a drill-down lists exactly
the customers a figure counts. Sums and counts run in the database, in one grouped
query per run (``breakdown``): its rows, one per segment × channel × sales rep ×
blueprint, add up to the totals of any group, and the company KPIs follow from those
totals with the formulas of ``engine.company_kpis``. The whale curve, the distribution
and the scatter sample come from one fetch of two or three columns (``ranked_values``);
without a filter, the previous run's KPIs and the whale curve are those the runs stored.
A page's figures are cached for a few minutes per run and filter (``cached_dashboard``).
"""

from __future__ import annotations

import datetime as dt
import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal
from functools import reduce

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.db.models import Count, F, FilteredRelation, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast
from django.urls import reverse

from customers.filters import CustomerFilter
from customers.models import Customer
from roles.models import RoleBlueprint

from . import selectors
from .charts import compact_money, money_text
from .engine import whale_curve
from .models import CustomerClass, CustomerScore, EconomicsRun

# The filters of the dashboard; the customer list's other fields (class, flag, …) are
# what a drill-down adds.
DASHBOARD_FIELDS = ("segment", "blueprint", "channel", "rep", "manager")
SCATTER_POINTS = 3000
TREND_RUNS = 12
CACHE_SECONDS = 600
NO_VALUE = {"segment": "No segment", "channel": "No channel", "rep": "No sales rep",
            "blueprint": "No agreed role"}  # fmt: skip


def dashboard_filter(params) -> CustomerFilter:
    """The customer filter from the query string, narrowed to the dashboard's fields."""
    full = CustomerFilter.from_query(params)
    return CustomerFilter(**{name: getattr(full, name) for name in DASHBOARD_FIELDS})


def drill_url(f: CustomerFilter, **changes) -> str:
    """The customer list showing the customers behind a figure."""
    query = replace(f, **changes).querystring() if changes else f.querystring()
    return reverse("customers:list") + (f"?{query}" if query else "")


def filtered_customers(f: CustomerFilter) -> QuerySet | None:
    """Ids of the filter's customers, as a subquery; None when the filter selects all."""
    if not f.is_active():
        return None
    return f.apply(Customer.objects.all()).values("pk")


def window_start(run: EconomicsRun) -> dt.date:
    """First day of the run's trailing twelve months (as ``engine``: the day after the
    as-of date, one calendar year back)."""
    return run.as_of + dt.timedelta(days=1) - relativedelta(years=1)


# --- sums and counts -----------------------------------------------------------------


@dataclass
class Totals:
    """Additive figures of a set of customers in one run."""

    customers: int = 0
    profit: float = 0.0
    clv: float = 0.0
    clv_gained: float = 0.0
    clv_lost: float = 0.0
    unprofitable: int = 0
    complaints: int = 0
    complaint_concessions: float = 0.0
    acquisition: float = 0.0
    with_acquisition_cost: int = 0
    new_customers: int = 0
    new_acquisition: float = 0.0
    buyers: int = 0
    buyers_annual_value: float = 0.0
    retention: float = 0.0
    bonuses: float = 0.0
    bonuses_on_unprofitable: float = 0.0
    classes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict) -> Totals:
        values = {}
        for f in fields(cls):
            if f.name == "classes":
                continue
            value = row.get(f"m_{f.name}") or 0
            values[f.name] = int(value) if f.type == "int" else float(value)
        classes = {k: int(row.get(f"m_class_{k}") or 0) for k in CustomerClass.values}
        return cls(**values, classes=classes)

    @property
    def mean_clv(self) -> float | None:
        return self.clv / self.customers if self.customers else None

    @property
    def unprofitable_share(self) -> float | None:
        return self.unprofitable / self.customers if self.customers else None


def _measures(new_customer: Q) -> dict:
    losing = Q(clv__lt=0)
    bought = Q(purchases_last_year__gt=0)
    measures = {
        "customers": Count("pk"),
        "profit": Sum("profit_to_date"),
        "clv": Sum("clv"),
        "clv_gained": Sum("clv", filter=Q(clv__gt=0)),
        "clv_lost": Sum("clv", filter=losing),
        "unprofitable": Count("pk", filter=losing),
        "complaints": Sum("complaints_last_year"),
        "complaint_concessions": Sum("complaint_concessions_last_year"),
        "acquisition": Sum("acquisition_cost"),
        "with_acquisition_cost": Count("pk", filter=Q(acquisition_cost__gt=0)),
        "new_customers": Count("pk", filter=new_customer),
        "new_acquisition": Sum("acquisition_cost", filter=new_customer),
        "buyers": Count("pk", filter=bought),
        "buyers_annual_value": Sum("annual_value", filter=bought),
        "retention": Sum("annual_cost_to_serve"),
        "bonuses": Sum("customer__sales_bonus"),
        "bonuses_on_unprofitable": Sum("customer__sales_bonus", filter=losing),
        **{f"class_{k}": Count("pk", filter=Q(klass=k)) for k in CustomerClass.values},
    }
    # Prefixed, so that no name clashes with a field of the score.
    return {f"m_{name}": aggregate for name, aggregate in measures.items()}


def _scores(runs: Iterable[EconomicsRun], customers: QuerySet | None) -> QuerySet:
    qs = CustomerScore.objects.filter(run__in=[r.pk for r in runs])
    return qs if customers is None else qs.filter(customer__in=customers)


def _new_customer(runs: Iterable[EconomicsRun]) -> Q:
    """Acquired in the twelve months up to each run's as-of date."""
    return reduce(
        operator.or_,
        (Q(run_id=run.pk, customer__acquired_on__gte=window_start(run)) for run in runs),
    )


@dataclass
class Group:
    key: str  # the filter value that selects the group ("" for customers without one)
    name: str
    totals: Totals


@dataclass
class Breakdown:
    """A run's totals for the filtered customers, and by each dimension."""

    totals: Totals
    by: dict[str, list[Group]]


DIMENSIONS = {
    "segment": "customer__segment",
    "channel": "customer__acquisition_channel",
    "rep": "customer__sales_rep",
    "blueprint": "agreed__blueprint_id",
}


def breakdown(run: EconomicsRun, customers: QuerySet | None, blueprints: dict[int, str]):
    """One grouped query: the filtered customers' totals by segment × channel × rep ×
    the blueprint of their agreed charter, rolled up in Python to each dimension."""
    rows = (
        _scores([run], customers)
        .annotate(
            agreed=FilteredRelation(
                "customer__charters", condition=Q(customer__charters__status="agreed")
            )
        )
        .values(**{f"dim_{name}": F(path) for name, path in DIMENSIONS.items()})
        .annotate(**_measures(_new_customer([run])))
        .order_by()
    )
    measures = [key for key in _measures(Q()) if key.startswith("m_")]
    total: dict = dict.fromkeys(measures, 0)
    groups: dict[str, dict] = {name: {} for name in DIMENSIONS}
    for row in rows:
        sums = [(key, row[key] or 0) for key in measures]
        for key, value in sums:
            total[key] += value
        for name in DIMENSIONS:
            key = row[f"dim_{name}"]
            group = groups[name].setdefault("" if key is None else key, dict.fromkeys(measures, 0))
            for measure, value in sums:
                group[measure] += value
    by = {}
    for name, found in groups.items():
        listed = [
            Group(
                key=str(key),
                name=NO_VALUE[name]
                if key == ""
                else (blueprints.get(key, "?") if name == "blueprint" else key),
                totals=Totals.from_row(sums),
            )
            for key, sums in found.items()
        ]
        by[name] = sorted(listed, key=lambda g: (g.key == "", -g.totals.clv))
    return Breakdown(totals=Totals.from_row(total), by=by)


def run_totals(runs: list[EconomicsRun], customers: QuerySet | None) -> dict[int, Totals]:
    """Totals of the filtered customers in each run, in one query."""
    if not runs:
        return {}
    rows = (
        _scores(runs, customers)
        .values("run_id")
        .annotate(**_measures(_new_customer(runs)))
        .order_by()
    )
    found = {row["run_id"]: Totals.from_row(row) for row in rows}
    return {run.pk: found.get(run.pk, Totals()) for run in runs}


# --- the company KPIs ------------------------------------------------------------------


def complaint_handling_cost(run: EconomicsRun) -> float:
    return float(run.parameters.get("complaint_handling_cost", 0) or 0)


def kpis(t: Totals, *, complaint_cost: float) -> dict:
    """The KPIs of ``engine.company_kpis`` from the totals of a set of customers."""
    cost_of_complaint = (
        (t.complaints * complaint_cost + t.complaint_concessions) / t.complaints
        if t.complaints
        else None
    )
    if t.new_customers:
        cost_of_new_customer = t.new_acquisition / t.new_customers
    else:  # as the engine: without new customers, everyone's acquisition cost
        cost_of_new_customer = t.acquisition / t.customers if t.customers else None
    mean_cac = t.acquisition / t.with_acquisition_cost if t.with_acquisition_cost else None
    return {
        "customers": t.customers,
        "cost_of_complaint": _round(cost_of_complaint, 2),
        "complaints_last_year": t.complaints,
        "cost_of_new_customer": _round(cost_of_new_customer, 2),
        "new_customers_last_year": t.new_customers,
        "annual_value_of_customer": _round(
            t.buyers_annual_value / t.buyers if t.buyers else None, 2
        ),
        "unprofitable_share": round(t.unprofitable / t.customers, 4) if t.customers else 0.0,
        "unprofitable_customers": t.unprofitable,
        "profit_lost_share": _round(-t.clv_lost / t.clv_gained if t.clv_gained else None, 4),
        "total_profit": round(t.profit, 2),
        "total_clv": round(t.clv, 2),
        "clv_to_cac": _round(t.clv / t.customers / mean_cac if mean_cac else None, 3),
        "acquisition_spend_last_year": round(t.new_acquisition, 2),
        "retention_spend_last_year": round(t.retention, 2),
        "classes": {k: v for k, v in t.classes.items() if v},
    }


def _round(value: float | None, places: int) -> float | None:
    return None if value is None else round(value, places)


@dataclass
class Tile:
    key: str
    label: str
    value: float | None
    unit: str  # "money", "share" or "ratio"
    higher_is_better: bool
    hint: str = ""
    previous: float | None = None
    drill: str = ""

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous

    @property
    def value_text(self) -> str:
        return _display(self.value, self.unit)

    @property
    def change_text(self) -> str:
        """``▲ EUR 12``, ``▼ 1.5 pts``: the change since the previous run."""
        change = self.change
        if change is None:
            return ""
        if self.trend == "same":
            return "no change"
        arrow = "▲" if change > 0 else "▼"
        if self.unit == "share":
            return f"{arrow} {abs(change) * 100:.1f} pts"
        if self.unit == "money" and abs(change) < 10:
            return f"{arrow} {settings.TANGO_CURRENCY} {abs(change):,.2f}"
        return f"{arrow} {_display(abs(change), self.unit)}"

    @property
    def trend(self) -> str:
        """Whether the change is for the better, the worse or the same (its colour)."""
        change = self.change
        if change is None or abs(change) < (1e-4 if self.unit == "share" else 0.005):
            return "same"
        return "better" if (change > 0) == self.higher_is_better else "worse"


def _display(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "share":
        return f"{value * 100:.1f} %"
    if unit == "ratio":
        return f"{value:,.1f}"
    currency = settings.TANGO_CURRENCY
    return compact_money(value, currency) if abs(value) >= 1e6 else money_text(value, currency)


def short_money(value: float | None) -> str:
    """Money as a table or a sentence shows it: ``EUR 12,345``, ``EUR 530.1M``."""
    if value is None:
        return "—"
    currency = settings.TANGO_CURRENCY
    return compact_money(value, currency) if abs(value) >= 1e5 else money_text(value, currency)


TILES = [
    # key, label, unit, higher is better
    ("cost_of_complaint", "Cost of a complaint", "money", False),
    ("cost_of_new_customer", "Cost of a new customer", "money", False),
    ("annual_value_of_customer", "Annual value of a customer", "money", True),
    ("clv_to_cac", "CLV : CAC", "ratio", True),
    ("unprofitable_share", "Customers unprofitable", "share", False),
    ("total_profit", "Total profit to date", "money", True),
]


def kpi_tiles(current: dict, previous: dict | None, f: CustomerFilter) -> list[Tile]:
    unprofitable = current.get("unprofitable_customers", 0)
    hints = {
        "cost_of_complaint": f"{current['complaints_last_year']:,} complaints in 12 months",
        "cost_of_new_customer": f"{current['new_customers_last_year']:,} won in 12 months",
        "annual_value_of_customer": "gross margin of the last 12 months, per buyer",
        "clv_to_cac": "lifetime value per unit of acquisition cost",
        "unprofitable_share": f"{unprofitable:,} of {current['customers']:,} have a CLV below zero",
        "total_profit": "margin − cost to serve − acquisition",
    }
    drills = {
        "cost_of_complaint": drill_url(f, flag="inherently_unhappy"),
        "cost_of_new_customer": drill_url(f, sort="-acquired_on"),
        "annual_value_of_customer": drill_url(f, sort="-annual_value"),
        "clv_to_cac": drill_url(f, sort="-clv"),
        "unprofitable_share": drill_url(f, unprofitable=True, sort="clv"),
        "total_profit": drill_url(f, sort="-clv"),
    }
    return [
        Tile(
            key=key,
            label=label,
            value=current.get(key),
            unit=unit,
            higher_is_better=better,
            hint=hints[key],
            previous=None if previous is None else previous.get(key),
            drill=drills[key],
        )
        for key, label, unit, better in TILES
    ]


# --- per customer: the whale curve, the distribution, the scatter ---------------------


@dataclass
class Ranked:
    """The filtered customers of a run as arrays: ids, CLV and (when asked for) profit
    to date."""

    ids: np.ndarray
    clv: np.ndarray
    profit: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ids)


def ranked_values(run: EconomicsRun, customers: QuerySet | None, *, profit: bool) -> Ranked:
    """One fetch of two or three columns, cast to floats in the database and read
    straight from the cursor (no model or Decimal per row: 100,000 rows at scale)."""
    columns = ["customer_id", Cast("clv", FloatField())]
    if profit:
        columns.append(Cast("profit_to_date", FloatField()))
    qs = _scores([run], customers).order_by().values_list(*columns)
    sql, params = qs.query.sql_with_params()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)  # safe: the ORM's own SQL, values as parameters
        data = np.array(cursor.fetchall(), dtype="float64").reshape(-1, len(columns))
    return Ranked(
        ids=data[:, 0].astype("int64"), clv=data[:, 1], profit=data[:, 2] if profit else None
    )


def whale(curve: dict) -> dict:
    """A whale curve as ``engine.whale_curve`` makes it (computed now, or stored with
    the run), with its points in money and the figures its sentence reads: the top
    ``earners_pct`` % of customers earn ``gained``; the bottom ``losers_pct`` % lose
    ``lost``."""
    total = curve.get("total", 0.0)
    scale = total if total != 0 else 1.0
    peak_share = curve.get("peak_profit_pct", 0.0)
    return {
        **curve,
        "profit": [round(p / 100 * scale, 2) for p in curve.get("profit_pct", [])],
        "gained": round(peak_share / 100 * scale, 2),
        "lost": curve.get("losers_lose", 0.0),
        "earners_pct": curve.get("peak_customers_pct", 0.0),
    }


LADDER = (1, 2, 5)
MAX_BANDS = 22


def distribution(values: Ranked) -> list[dict]:
    """Customers per band of CLV. Money in a customer base spreads over orders of
    magnitude, so the bands grow on a 1–2–5 ladder away from zero (…, −2k to −1k,
    −1k to 0, 0 to 1k, 1k to 2k, 2k to 5k, …); the band nearest zero is as wide as
    about a tenth of the customers' values (wider if there would be more than
    ``MAX_BANDS``), and only the empty bands at either end
    are left out."""
    clv = values.clv
    if not len(clv):
        return []
    magnitude = float(np.percentile(np.abs(clv), 10))
    first = _ladder_floor(max(magnitude, 1.0))
    while True:
        edges = _band_edges(first, float(clv.min()), float(clv.max()))
        if len(edges) - 1 <= MAX_BANDS:
            break
        first = _ladder_next(first)
    index = np.searchsorted(edges, clv, side="right") - 1
    counts = np.bincount(index, minlength=len(edges) - 1)
    sums = np.bincount(index, weights=clv, minlength=len(edges) - 1)
    used = np.flatnonzero(counts)
    return [
        {
            "low": float(edges[i]),
            "high": float(edges[i + 1]),
            "customers": int(counts[i]),
            "clv": round(float(sums[i]), 2),
        }
        for i in range(used[0], used[-1] + 1)
    ]


def _ladder_floor(value: float) -> float:
    """The largest 1, 2 or 5 × a power of ten not above ``value``."""
    power = 10.0 ** math.floor(math.log10(value))
    return max(step * power for step in LADDER if step * power <= value * (1 + 1e-9))


def _ladder_next(value: float) -> float:
    power = 10.0 ** math.floor(math.log10(value) + 1e-9)
    step = round(value / power)
    return {1: 2, 2: 5, 5: 10}[step] * power


def _band_edges(first: float, low: float, high: float) -> np.ndarray:
    """0, ±first and the ladder beyond, far enough to hold ``low`` and ``high``."""
    up = [0.0, first]
    while up[-1] <= high:
        up.append(_ladder_next(up[-1]))
    down = [-first]
    while down[-1] > low:
        down.append(-_ladder_next(-down[-1]))
    return np.array(sorted(down) + up)


@dataclass
class Sample:
    points: list[dict]
    total: int
    sampled: bool


def fit_sample(run: EconomicsRun, values: Ranked, limit: int | None = None) -> Sample:
    """Customers for the role fit × CLV scatter: all of them up to ``limit`` (default
    ``SCATTER_POINTS``), else ``limit`` spread evenly over the CLV ranking, the best and
    the worst included."""
    limit = limit or SCATTER_POINTS
    n = len(values)
    if n == 0:
        return Sample(points=[], total=0, sampled=False)
    order = np.argsort(-values.clv, kind="stable")
    if n > limit:
        order = order[np.unique(np.linspace(0, n - 1, limit).round().astype(int))]
    ids = values.ids[order].tolist()
    rows = (
        CustomerScore.objects.filter(run=run, customer_id__in=ids)
        .order_by("-clv", "customer_id")
        .values(
            "customer_id", "customer__name", "role_fit", "klass", clv_f=Cast("clv", FloatField())
        )
    )
    points = [
        {
            "id": r["customer_id"],
            "name": r["customer__name"],
            "role_fit": r["role_fit"],
            "klass": r["klass"],
            "clv": r["clv_f"],
        }
        for r in rows
    ]
    return Sample(points=points, total=n, sampled=n > limit)


# --- runs: the previous one, trends, model health --------------------------------------


def succeeded_runs(limit: int = 30) -> list[EconomicsRun]:
    """The latest succeeded runs, oldest first, one per as-of date (the newest)."""
    runs = list(
        EconomicsRun.objects.filter(status=EconomicsRun.Status.SUCCEEDED)
        .order_by("-created_at", "-pk")
        .only("pk", "as_of", "created_at", "finished_at", "parameters")[: limit * 2]
    )
    seen: set[dt.date] = set()
    kept = []
    for run in runs:
        if run.as_of not in seen:
            seen.add(run.as_of)
            kept.append(run)
    return sorted(kept[:limit], key=lambda r: (r.as_of, r.created_at))


TREND_KEYS = [key for key, *_ in TILES]


def trends(f: CustomerFilter) -> list[dict]:
    """The KPIs of each succeeded run (one per as-of date), oldest first. Without a
    filter they are the runs' stored KPIs; with one, the filtered customers' totals of
    the last ``TREND_RUNS`` runs, in one query."""
    if not f.is_active():
        rows = (
            EconomicsRun.objects.filter(status=EconomicsRun.Status.SUCCEEDED)
            .order_by("-created_at", "-pk")
            .values("pk", "as_of", "created_at", *[f"kpis__{k}" for k in TREND_KEYS])[:60]
        )
        seen: set[dt.date] = set()
        out = []
        for row in rows:
            if row["as_of"] in seen:
                continue
            seen.add(row["as_of"])
            out.append(
                {"run": row["pk"], "as_of": row["as_of"],
                 **{k: row[f"kpis__{k}"] for k in TREND_KEYS}}
            )  # fmt: skip
        return sorted(out[:30], key=lambda r: r["as_of"])
    runs = succeeded_runs(TREND_RUNS)
    totals = run_totals(runs, filtered_customers(f))
    return [
        {
            "run": run.pk,
            "as_of": run.as_of,
            **{
                k: v
                for k, v in kpis(
                    totals[run.pk], complaint_cost=complaint_handling_cost(run)
                ).items()
                if k in TREND_KEYS
            },
        }
        for run in runs
    ]


def latest_holdout_run() -> EconomicsRun | None:
    return (
        EconomicsRun.objects.filter(status=EconomicsRun.Status.SUCCEEDED, holdout_end__isnull=False)
        .order_by("-created_at", "-pk")
        .only("pk", "as_of", "holdout_end", "holdout", "created_at")
        .first()
    )


def model_health(run: EconomicsRun) -> dict:
    """The fitted BG/NBD and Gamma-Gamma parameters of a run, as rows to read."""
    bg = run.model.get("bgnbd", {})
    gg = run.model.get("gamma_gamma", {})

    def rows(fit: dict, names: list[tuple[str, str]]) -> list[dict]:
        errors = fit.get("std_errors") or {}
        return [
            {"name": label, "key": key, "value": fit.get(key), "std_error": errors.get(key)}
            for key, label in names
        ]

    return {
        "bgnbd": {
            "parameters": rows(bg, [("r", "r"), ("alpha", "α"), ("a", "a"), ("b", "b")]),
            "log_likelihood": bg.get("log_likelihood"),
            "n": bg.get("n_customers", bg.get("n")),
            "converged": bg.get("converged"),
        },
        "gamma_gamma": {
            "parameters": rows(gg, [("p", "p"), ("q", "q"), ("gamma", "γ")]),
            "log_likelihood": gg.get("log_likelihood"),
            "n": gg.get("n_customers", gg.get("n")),
            "converged": gg.get("converged"),
            "observed_mean": gg.get("observed_mean"),
        },
        "horizon_weeks": run.model.get("horizon_weeks"),
        "annual_discount_rate": run.model.get("annual_discount_rate"),
    }


# --- the whole page ---------------------------------------------------------------------


@dataclass
class Dashboard:
    run: EconomicsRun
    previous: EconomicsRun | None
    filter: CustomerFilter
    kpis: dict
    previous_kpis: dict | None
    tiles: list[Tile]
    breakdown: Breakdown
    whale: dict
    distribution: list[dict]
    sample: Sample
    blueprints: dict[int, str]


def filter_choices(run: EconomicsRun) -> dict[str, list[str]]:
    """The values the dashboard's filters offer: the run's own sales reps and channels
    (it stored them with its acquisition quality), and the segments there are."""
    from customers.selectors import segments

    def stored(key: str) -> list[str]:
        return sorted(r["name"] for r in run.kpis.get(key, []) if r["name"] != "(none)")

    return {
        "segments": cached("segments", segments),
        "channels": stored("by_channel"),
        "reps": stored("by_sales_rep"),
    }


def blueprint_names() -> dict[int, str]:
    return dict(RoleBlueprint.objects.order_by("name").values_list("pk", "name"))


def dashboard(
    run: EconomicsRun,
    previous: EconomicsRun | None,
    f: CustomerFilter,
    *,
    blueprints: dict[int, str] | None = None,
) -> Dashboard:
    blueprints = blueprint_names() if blueprints is None else blueprints
    customers = filtered_customers(f)
    parts = breakdown(run, customers, blueprints)
    current = kpis(parts.totals, complaint_cost=complaint_handling_cost(run))
    previous_kpis = None
    if previous is not None and not f.is_active() and previous.kpis.get("customers"):
        previous_kpis = previous.kpis  # the whole base: as the run stored it
    elif previous is not None:
        totals = run_totals([previous], customers)[previous.pk]
        if totals.customers:
            previous_kpis = kpis(totals, complaint_cost=complaint_handling_cost(previous))
    stored = run.kpis.get("whale_curve") if not f.is_active() else None
    values = ranked_values(run, customers, profit=not stored)
    curve = stored or whale_curve(pd.Series(values.profit, dtype="float64"))
    return Dashboard(
        run=run,
        previous=previous,
        filter=f,
        kpis=current,
        previous_kpis=previous_kpis,
        tiles=kpi_tiles(current, previous_kpis, f),
        breakdown=parts,
        whale=whale(curve),
        distribution=distribution(values),
        sample=fit_sample(run, values),
        blueprints=blueprints,
    )


def cached_dashboard(run: EconomicsRun, previous: EconomicsRun | None, f: CustomerFilter):
    """``dashboard`` for a run and a filter, kept for ``CACHE_SECONDS``: a run's figures
    never change, only which customers a filter selects may (a new charter, say)."""
    key = _cache_key("page", run, previous, f)
    data = cache.get(key)
    if data is None:
        data = dashboard(run, previous, f)
        cache.set(key, data, CACHE_SECONDS)
    return data


def cached_trends(run: EconomicsRun, f: CustomerFilter) -> list[dict]:
    key = _cache_key("trends", run, None, f)
    rows = cache.get(key)
    if rows is None:
        rows = trends(f)
        cache.set(key, rows, CACHE_SECONDS)
    return rows


def cached(name: str, compute):
    """Anything else the page shows that a run does not change by the minute."""
    key = f"tango:dashboard:{name}"
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def _cache_key(kind: str, run: EconomicsRun, previous: EconomicsRun | None, f) -> str:
    def stamp(r: EconomicsRun | None) -> str:
        return f"{r.pk}@{r.finished_at.timestamp() if r.finished_at else 0}" if r else "-"

    return f"tango:dashboard:{kind}:{stamp(run)}:{stamp(previous)}:{f.querystring()}"


def as_decimal(value: float | None) -> Decimal | None:
    """Money for exports: two decimals."""
    return None if value is None else Decimal(f"{value:.2f}")


# --- rows for charts, tables and exports ---------------------------------------------


def group_rows(groups: list[Group], dimension: str, f: CustomerFilter) -> list[dict]:
    """Groups as rows, each with the customer list it drills down to (``url``) and the
    list of its customers who lose money (``losers_url``)."""
    rows = []
    for g in groups:
        if dimension == "blueprint":
            change = {"blueprint": int(g.key)} if g.key else {"klass": "no_role"}
        else:
            change = {dimension: g.key} if g.key else {}
        t = g.totals
        rows.append(
            {
                "key": g.key,
                "name": g.name,
                "customers": t.customers,
                "profit": round(t.profit, 2),
                "clv": round(t.clv, 2),
                "mean_clv": _round(t.mean_clv, 2),
                "unprofitable": t.unprofitable,
                "unprofitable_share": t.unprofitable_share or 0.0,
                "bonuses": round(t.bonuses, 2),
                "bonuses_on_unprofitable": round(t.bonuses_on_unprofitable, 2),
                "text": {
                    k: short_money(v)
                    for k, v in [
                        ("profit", t.profit),
                        ("clv", t.clv),
                        ("mean_clv", t.mean_clv),
                        ("bonuses", t.bonuses),
                        ("bonuses_on_unprofitable", t.bonuses_on_unprofitable),
                    ]
                },
                "url": drill_url(f, **change) if change else "",
                "losers_url": drill_url(f, **change, unprofitable=True, sort="clv")
                if change
                else "",
            }
        )
    return rows


def sample_rows(sample: Sample) -> list[dict]:
    """Scatter points with the customer page each opens."""
    pattern = reverse("customers:detail", args=[999999999]).replace("999999999", "{}")
    return [{**p, "url": pattern.format(p["id"])} for p in sample.points]


GROUP_HEADER = ["name", "customers", "profit_to_date", "clv", "mean_clv", "unprofitable",
                "unprofitable_share", "bonuses_paid", "bonuses_paid_on_unprofitable"]  # fmt: skip
EXPORTS = ("kpis", "whale", "distribution", "fit", "segments", "blueprints", "reps",
           "channels", "spend", "trends", "holdout")  # fmt: skip


def export_table(chart: str, run: EconomicsRun, f: CustomerFilter) -> tuple[list[str], list]:
    """The data behind one chart of the dashboard, as a header and rows."""
    if chart == "trends":
        header = ["as_of", "run", *TREND_KEYS]
        rows = cached_trends(run, f)
        return header, [[r["as_of"], r["run"], *[r.get(k) for k in TREND_KEYS]] for r in rows]
    if chart == "holdout":
        held = latest_holdout_run()
        tracking = (held.holdout or {}).get("tracking", {}) if held else {}
        weeks = tracking.get("week", [])
        return ["weeks_after_as_of", "predicted_repeat_purchases", "actual_repeat_purchases"], [
            list(r)
            for r in zip(
                weeks, tracking.get("predicted", []), tracking.get("actual", []), strict=False
            )
        ]
    data = cached_dashboard(run, selectors.previous_run(run), f)
    if chart == "kpis":
        rows = [[t.label, t.value, t.previous, t.change] for t in data.tiles]
        return ["kpi", "value", "previous_run", "change"], rows
    if chart == "whale":
        w = data.whale
        return ["customers_pct", "cumulative_profit_to_date", "cumulative_profit_pct"], [
            [x, as_decimal(m), p]
            for x, m, p in zip(w["customers_pct"], w["profit"], w["profit_pct"], strict=True)
        ]
    if chart == "distribution":
        return ["clv_from", "clv_to", "customers", "total_clv"], [
            [as_decimal(b["low"]), as_decimal(b["high"]), b["customers"], as_decimal(b["clv"])]
            for b in data.distribution
        ]
    if chart == "fit":
        return ["customer_id", "customer", "class", "role_fit", "clv"], [
            [p["id"], p["name"], p["klass"], p["role_fit"], as_decimal(p["clv"])]
            for p in data.sample.points
        ]
    if chart == "spend":
        k = data.kpis
        return ["spend_last_12_months", "amount"], [
            ["acquisition (cost and bonuses of new customers)",
             as_decimal(k["acquisition_spend_last_year"])],
            ["retention (cost to serve)", as_decimal(k["retention_spend_last_year"])],
        ]  # fmt: skip
    dimension = {"segments": "segment", "blueprints": "blueprint", "reps": "rep",
                 "channels": "channel"}[chart]  # fmt: skip
    return GROUP_HEADER, [
        [r["name"], r["customers"], as_decimal(r["profit"]), as_decimal(r["clv"]),
         as_decimal(r["mean_clv"]), r["unprofitable"], round(r["unprofitable_share"], 4),
         as_decimal(r["bonuses"]), as_decimal(r["bonuses_on_unprofitable"])]
        for r in group_rows(data.breakdown.by[dimension], dimension, f)
    ]  # fmt: skip


def class_rows(current: dict, f: CustomerFilter) -> list[tuple]:
    """(class, label, customers, share, drill-down) for each class, in the order of the
    classification table."""
    counts = current.get("classes", {})
    total = current.get("customers") or 0
    return [
        (klass, label, counts.get(klass, 0), counts.get(klass, 0) / total if total else 0.0,
         drill_url(f, klass=klass))
        for klass, label in CustomerClass.choices
    ]  # fmt: skip
