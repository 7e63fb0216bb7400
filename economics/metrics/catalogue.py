"""The metric catalogue: every measurable expectation of a customer and every
measurable commitment of the company, defined once.

Each metric has a key, a name, a unit, a direction (is higher better?), a definition in
plain words, optional parameters (e.g. the response-time target in business hours) and
one vectorised function that computes it for many customers at once from a
``MetricData`` bundle (pandas frames of everything known as of a date).

A metric is NaN for a customer when there is nothing to measure (no invoice due yet, no
complaint old enough to judge forgiveness): NaN means "no data", never zero. Rates "per
year" are annualised over the trailing twelve months, or over the customer's time with
us when that is shorter (at least ``MIN_WINDOW_DAYS``), so a new customer is not
penalised for not having been around for a year.

No Django import: the thin loader in ``economics.metrics.data`` fills the frames.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .calendar import BusinessCalendar, business_hours_between

YEAR_DAYS = 365.0
MIN_WINDOW_DAYS = 90

CUSTOMER = "customer"
COMPANY = "company"
HIGHER = "at_least"
LOWER = "at_most"


@dataclass
class MetricData:
    """What is known about a set of customers as of a date. Frames hold only rows on or
    before ``as_of``; timestamps of tickets are naive, in the calendar's local time.

    customers:  index customer id; acquired_on (datetime64), has_account_manager (bool)
    orders:     customer_id, date, revenue, cost (float), kind, category
    invoices:   customer_id, issued_on, due_on, paid_on (NaT if unpaid), amount
    tickets:    customer_id, opened_at, first_response_at, resolved_at, channel,
                is_complaint, csat
    activities: customer_id, date, kind (activity type kind), quantity
    referrals:  customer_id (the referrer), date
    feedback:   customer_id, date, score (NaN if none), has_insight
    """

    as_of: dt.date
    customers: pd.DataFrame
    orders: pd.DataFrame
    invoices: pd.DataFrame
    tickets: pd.DataFrame
    activities: pd.DataFrame
    referrals: pd.DataFrame
    feedback: pd.DataFrame
    calendar: BusinessCalendar = field(default_factory=BusinessCalendar)

    @property
    def as_of_ts(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of)

    @property
    def end_of_day(self) -> pd.Timestamp:
        return self.as_of_ts + pd.Timedelta(days=1)

    @property
    def index(self) -> pd.Index:
        return self.customers.index

    def truncate(self, as_of: dt.date) -> MetricData:
        """The same customers as known on an earlier date (for trends)."""
        if as_of > self.as_of:
            raise ValueError("Data cannot be moved forward in time.")
        day = pd.Timestamp(as_of)
        end = day + pd.Timedelta(days=1)
        invoices = self.invoices[self.invoices["issued_on"] <= day].copy()
        invoices.loc[invoices["paid_on"] > day, "paid_on"] = pd.NaT
        tickets = self.tickets[self.tickets["opened_at"] < end].copy()
        for col in ("first_response_at", "resolved_at"):
            tickets.loc[tickets[col] >= end, col] = pd.NaT
        return MetricData(
            as_of=as_of,
            customers=self.customers,
            orders=self.orders[self.orders["date"] <= day],
            invoices=invoices,
            tickets=tickets,
            activities=self.activities[self.activities["date"] <= day],
            referrals=self.referrals[self.referrals["date"] <= day],
            feedback=self.feedback[self.feedback["date"] <= day],
            calendar=self.calendar,
        )

    def first_purchase(self) -> pd.Series:
        return self.orders.groupby("customer_id")["date"].min().reindex(self.index)

    def start_of_relationship(self) -> pd.Series:
        """When the customer became one: acquired_on, else the first order."""
        return self.customers["acquired_on"].fillna(self.first_purchase())

    def window_start(self, years: int = 1) -> pd.Timestamp:
        """Start of the trailing twelve months (calendar years back from the day
        after ``as_of``, so a leap year is still one year)."""
        return self.end_of_day - pd.DateOffset(years=years)

    def window_years(self) -> pd.Series:
        """Length of the measuring window in years: the trailing twelve months, or
        the time since the relationship started when shorter (never under 90 days)."""
        start = self.start_of_relationship()
        full = float((self.end_of_day - self.window_start()).days)
        days = (self.end_of_day - start).dt.days.astype("float64")
        days = days.fillna(full).clip(lower=MIN_WINDOW_DAYS, upper=full)
        return (days / YEAR_DAYS).where(days < full, 1.0)


@dataclass(frozen=True)
class Param:
    key: str
    label: str
    default: float
    unit: str = ""


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    side: str
    unit: str
    direction: str
    definition: str
    compute: Callable[[MetricData, dict[str, Any]], pd.Series]
    params: tuple[Param, ...] = ()
    stages: tuple[str, ...] = ()
    commitment_kinds: tuple[str, ...] = ()

    @property
    def higher_is_better(self) -> bool:
        return self.direction == HIGHER

    def resolve_params(self, given: dict[str, Any] | None) -> dict[str, float]:
        given = given or {}
        return {p.key: float(given.get(p.key, p.default)) for p in self.params}

    def __call__(self, data: MetricData, params: dict[str, Any] | None = None) -> pd.Series:
        values = self.compute(data, self.resolve_params(params))
        return values.reindex(data.index).astype("float64").rename(self.key)


# --- helpers ------------------------------------------------------------------------


def _count_in_window(frame: pd.DataFrame, data: MetricData, date_col: str = "date") -> pd.Series:
    recent = frame[frame[date_col] >= data.window_start()]
    return recent.groupby("customer_id").size().reindex(data.index, fill_value=0)


def _per_year(counts: pd.Series, data: MetricData) -> pd.Series:
    return counts.astype("float64") / data.window_years()


def _transactions(data: MetricData) -> pd.DataFrame:
    """Purchase days: orders on the same day are one transaction."""
    return data.orders[["customer_id", "date"]].drop_duplicates()


def _safe_ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype("float64")
    return num.astype("float64").div(den.where(den != 0))


# --- customer side ------------------------------------------------------------------


def purchases_per_year(data: MetricData, params: dict) -> pd.Series:
    return _per_year(_count_in_window(_transactions(data), data), data)


def repeat_purchases_per_year(data: MetricData, params: dict) -> pd.Series:
    tx = _transactions(data)
    first = tx.groupby("customer_id")["date"].transform("min")
    return _per_year(_count_in_window(tx[tx["date"] > first], data), data)


def average_order_value(data: MetricData, params: dict) -> pd.Series:
    return data.orders.groupby("customer_id")["revenue"].mean()


def _margin_between(data: MetricData, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    o = data.orders
    sel = o[(o["date"] >= start) & (o["date"] < end)]
    margin = (sel["revenue"] - sel["cost"]).groupby(sel["customer_id"]).sum()
    return margin.reindex(data.index, fill_value=0.0)


def annual_value(data: MetricData, params: dict) -> pd.Series:
    return _margin_between(data, data.window_start(), data.end_of_day)


def annual_value_growth_pct(data: MetricData, params: dict) -> pd.Series:
    now = _margin_between(data, data.window_start(), data.end_of_day)
    before = _margin_between(data, data.window_start(years=2), data.window_start())
    return (now - before) / before.where(before > 0) * 100.0


def upgrades_per_year(data: MetricData, params: dict) -> pd.Series:
    upgrades = data.orders[data.orders["kind"] == "upgrade"]
    return _per_year(_count_in_window(upgrades, data), data)


def cross_sold_categories(data: MetricData, params: dict) -> pd.Series:
    o = data.orders[data.orders["category"].fillna("") != ""]
    distinct = o.groupby("customer_id")["category"].nunique().reindex(data.index)
    return (distinct - 1).clip(lower=0)


def _due_invoices(data: MetricData) -> pd.DataFrame:
    inv = data.invoices
    return inv[inv["due_on"] < data.as_of_ts]


def on_time_payment_share(data: MetricData, params: dict) -> pd.Series:
    inv = _due_invoices(data)
    on_time = inv["paid_on"].notna() & (inv["paid_on"] <= inv["due_on"])
    return on_time.groupby(inv["customer_id"]).mean()


def average_days_late(data: MetricData, params: dict) -> pd.Series:
    inv = _due_invoices(data)
    settled = inv["paid_on"].fillna(data.as_of_ts)
    late = (settled - inv["due_on"]).dt.days.clip(lower=0).astype("float64")
    return late.groupby(inv["customer_id"]).mean()


def referrals_per_year(data: MetricData, params: dict) -> pd.Series:
    return _per_year(_count_in_window(data.referrals, data), data)


def surveys_per_year(data: MetricData, params: dict) -> pd.Series:
    return _per_year(_count_in_window(data.feedback, data), data)


def insights_per_year(data: MetricData, params: dict) -> pd.Series:
    return _per_year(_count_in_window(data.feedback[data.feedback["has_insight"]], data), data)


def nps_promoter_share(data: MetricData, params: dict) -> pd.Series:
    fb = data.feedback
    scored = fb[fb["score"].notna() & (fb["date"] >= data.window_start())]
    return (scored["score"] >= 9).groupby(scored["customer_id"]).mean()


def forgiveness_share(data: MetricData, params: dict) -> pd.Series:
    """Of the complaints old enough to judge, the share after which the customer
    bought again within N days."""
    days = int(params["days"])
    t = data.tickets
    complaints = t[
        t["is_complaint"] & (t["opened_at"] <= data.end_of_day - pd.Timedelta(days=days))
    ]
    if complaints.empty:
        return pd.Series(np.nan, index=data.index)
    complaints = complaints[["customer_id", "opened_at"]].reset_index(drop=True)
    complaints["complaint"] = complaints.index
    orders = data.orders[["customer_id", "date"]]
    pairs = complaints.merge(orders, on="customer_id", how="left")
    after = (pairs["date"] >= pairs["opened_at"].dt.normalize()) & (
        pairs["date"] <= pairs["opened_at"] + pd.Timedelta(days=days)
    )
    kept = after.groupby(pairs["complaint"]).any()
    complaints["kept_buying"] = kept.reindex(complaints["complaint"]).to_numpy()
    return complaints.groupby("customer_id")["kept_buying"].mean()


def complaints_per_year(data: MetricData, params: dict) -> pd.Series:
    t = data.tickets
    return _per_year(_count_in_window(t[t["is_complaint"]], data, "opened_at"), data)


def tenure_months(data: MetricData, params: dict) -> pd.Series:
    start = data.start_of_relationship()
    return (data.end_of_day - start).dt.days / (YEAR_DAYS / 12)


def gross_margin_pct(data: MetricData, params: dict) -> pd.Series:
    o = data.orders
    by = o.groupby("customer_id")[["revenue", "cost"]].sum()
    return _safe_ratio(by["revenue"] - by["cost"], by["revenue"]) * 100.0


# --- company side -------------------------------------------------------------------


def _recent_tickets(data: MetricData) -> pd.DataFrame:
    t = data.tickets
    return t[t["opened_at"] >= data.window_start()]


def _within_target_share(data: MetricData, column: str, hours: float) -> pd.Series:
    """Share of the last year's tickets answered (or resolved) within ``hours`` business
    hours. A ticket still waiting counts as missed once the target has passed; before
    that it is not judged yet."""
    t = _recent_tickets(data)
    cal = data.calendar
    done = business_hours_between(t["opened_at"].to_numpy(), t[column].to_numpy(), cal)
    waited_so_far = business_hours_between(
        t["opened_at"].to_numpy(),
        np.full(len(t), np.datetime64(data.end_of_day.to_datetime64(), "s")),
        cal,
    )
    answered = ~np.isnan(done)
    met = answered & (done <= hours)
    judged = answered | (waited_so_far > hours)
    frame = pd.DataFrame({"customer_id": t["customer_id"].to_numpy(), "met": met, "judged": judged})
    frame = frame[frame["judged"]]
    return frame.groupby("customer_id")["met"].mean()


def first_response_within_target_share(data: MetricData, params: dict) -> pd.Series:
    return _within_target_share(data, "first_response_at", params["hours"])


def resolved_within_target_share(data: MetricData, params: dict) -> pd.Series:
    return _within_target_share(data, "resolved_at", params["hours"])


def _activities_per_year(data: MetricData, kind: str) -> pd.Series:
    a = data.activities
    sel = a[(a["kind"] == kind) & (a["date"] >= data.window_start())]
    qty = sel.groupby("customer_id")["quantity"].sum().reindex(data.index, fill_value=0.0)
    return _per_year(qty, data)


def listening_sessions_per_year(data: MetricData, params: dict) -> pd.Series:
    return _activities_per_year(data, "listening")


def surprises_per_year(data: MetricData, params: dict) -> pd.Series:
    return _activities_per_year(data, "surprise")


def preferred_treatments_per_year(data: MetricData, params: dict) -> pd.Series:
    return _activities_per_year(data, "preferred")


def dedicated_manager_assigned(data: MetricData, params: dict) -> pd.Series:
    return data.customers["has_account_manager"].astype("float64")


def csat_spread_across_channels(data: MetricData, params: dict) -> pd.Series:
    t = _recent_tickets(data)
    t = t[t["csat"].notna()]
    by_channel = t.groupby(["customer_id", "channel"])["csat"].mean()
    spread = by_channel.groupby(level="customer_id").agg(lambda s: s.max() - s.min())
    channels = by_channel.groupby(level="customer_id").size()
    return spread.where(channels >= 2)


def response_time_spread_across_channels(data: MetricData, params: dict) -> pd.Series:
    t = _recent_tickets(data)
    hours = business_hours_between(
        t["opened_at"].to_numpy(), t["first_response_at"].to_numpy(), data.calendar
    )
    frame = pd.DataFrame(
        {"customer_id": t["customer_id"].to_numpy(), "channel": t["channel"].to_numpy(), "h": hours}
    ).dropna()
    by_channel = frame.groupby(["customer_id", "channel"])["h"].median()
    spread = by_channel.groupby(level="customer_id").agg(lambda s: s.max() - s.min())
    channels = by_channel.groupby(level="customer_id").size()
    return spread.where(channels >= 2)


def average_csat(data: MetricData, params: dict) -> pd.Series:
    t = _recent_tickets(data)
    return t.groupby("customer_id")["csat"].mean()


# --- the registry -------------------------------------------------------------------

HOURS = Param("hours", "Target time", 4.0, "business hours")
RESOLUTION_HOURS = Param("hours", "Target time", 24.0, "business hours")
FORGIVENESS_DAYS = Param("days", "Bought again within", 90.0, "days")

METRICS: dict[str, Metric] = {
    m.key: m
    for m in [
        Metric(
            "purchases_per_year", "Purchases per year", CUSTOMER, "purchases / year", HIGHER,
            "Days with at least one order in the last 12 months (or since the customer "
            "joined, if sooner), per year.",
            purchases_per_year, stages=("purchase", "awareness"),
        ),
        Metric(
            "repeat_purchases_per_year", "Repeat purchases per year", CUSTOMER,
            "purchases / year", HIGHER,
            "Purchase days after the very first one, in the last 12 months, per year.",
            repeat_purchases_per_year, stages=("repeat_purchase",),
        ),
        Metric(
            "average_order_value", "Average order value", CUSTOMER, "money", HIGHER,
            "Revenue per order, over all orders to date.",
            average_order_value, stages=("purchase",),
        ),
        Metric(
            "annual_value", "Annual value", CUSTOMER, "money", HIGHER,
            "Gross margin (revenue − cost of goods) of the last 12 months.",
            annual_value, stages=("long_term", "high_margins"),
        ),
        Metric(
            "annual_value_growth_pct", "Growth in annual value", CUSTOMER, "%", HIGHER,
            "Gross margin of the last 12 months against the 12 months before, in %. "
            "No figure when the year before brought no margin.",
            annual_value_growth_pct, stages=("upgrade", "long_term"),
        ),
        Metric(
            "upgrades_per_year", "Upgrades per year", CUSTOMER, "orders / year", HIGHER,
            "Orders marked as upgrades in the last 12 months, per year.",
            upgrades_per_year, stages=("upgrade",),
        ),
        Metric(
            "cross_sold_categories", "Cross-sold categories", CUSTOMER, "categories", HIGHER,
            "Product categories bought beyond the first one, to date.",
            cross_sold_categories, stages=("upgrade", "purchase"),
        ),
        Metric(
            "on_time_payment_share", "Invoices paid on time", CUSTOMER, "share", HIGHER,
            "Of the invoices already due, the share paid by their due date.",
            on_time_payment_share, stages=("on_time_payment",),
        ),
        Metric(
            "average_days_late", "Average days late", CUSTOMER, "days", LOWER,
            "Days past the due date per invoice already due (0 when on time; unpaid "
            "ones count until today).",
            average_days_late, stages=("on_time_payment",),
        ),
        Metric(
            "referrals_per_year", "Referrals per year", CUSTOMER, "referrals / year", HIGHER,
            "People or companies the customer referred in the last 12 months, per year.",
            referrals_per_year, stages=("referrals", "evangelizing"),
        ),
        Metric(
            "surveys_per_year", "Surveys answered per year", CUSTOMER, "answers / year",
            HIGHER,
            "Surveys, NPS questions and interviews answered in the last 12 months, per year.",
            surveys_per_year, stages=("feedback",),
        ),
        Metric(
            "insights_per_year", "Insights given per year", CUSTOMER, "insights / year",
            HIGHER,
            "Feedback that carried an idea or insight in the last 12 months, per year.",
            insights_per_year, stages=("feedback",),
        ),
        Metric(
            "nps_promoter_share", "NPS promoter share", CUSTOMER, "share", HIGHER,
            "Of the NPS scores given in the last 12 months, the share of 9 or 10.",
            nps_promoter_share, stages=("evangelizing", "awareness"),
        ),
        Metric(
            "forgiveness_share", "Forgiveness", CUSTOMER, "share", HIGHER,
            "Of the customer's complaints at least N days old, the share after which "
            "they bought again within N days.",
            forgiveness_share, params=(FORGIVENESS_DAYS,), stages=("forgiveness",),
        ),
        Metric(
            "complaints_per_year", "Complaints per year", CUSTOMER, "complaints / year",
            LOWER,
            "Tickets marked as complaints in the last 12 months, per year.",
            complaints_per_year, stages=("forgiveness",),
        ),
        Metric(
            "tenure_months", "Tenure", CUSTOMER, "months", HIGHER,
            "Months since the customer was acquired (or first bought).",
            tenure_months, stages=("long_term",),
        ),
        Metric(
            "gross_margin_pct", "Gross margin %", CUSTOMER, "%", HIGHER,
            "Revenue minus cost of goods, as a share of revenue, over all orders to date.",
            gross_margin_pct, stages=("high_margins",),
        ),
        Metric(
            "first_response_within_target_share", "First response within target",
            COMPANY, "share", HIGHER,
            "Of the last 12 months' tickets, the share that got a first response within "
            "the target time, counted in business hours.",
            first_response_within_target_share, params=(HOURS,),
            commitment_kinds=("response", "service_level"),
        ),
        Metric(
            "resolved_within_target_share", "Resolved within target", COMPANY, "share",
            HIGHER,
            "Of the last 12 months' tickets, the share resolved within the target time, "
            "counted in business hours.",
            resolved_within_target_share, params=(RESOLUTION_HOURS,),
            commitment_kinds=("resolution", "service_level"),
        ),
        Metric(
            "listening_sessions_per_year", "Listening sessions per year", COMPANY,
            "sessions / year", HIGHER,
            "Business reviews, account reviews and other listening activities held in the "
            "last 12 months, per year.",
            listening_sessions_per_year, commitment_kinds=("listening",),
        ),
        Metric(
            "csat_spread_across_channels", "CSAT spread across channels", COMPANY,
            "points", LOWER,
            "Highest minus lowest average CSAT across the channels the customer used in "
            "the last 12 months (needs two channels).",
            csat_spread_across_channels, commitment_kinds=("consistency",),
        ),
        Metric(
            "response_time_spread_across_channels", "Response time spread across channels",
            COMPANY, "business hours", LOWER,
            "Slowest minus fastest median first-response time across channels in the last "
            "12 months, in business hours (needs two channels).",
            response_time_spread_across_channels, commitment_kinds=("consistency",),
        ),
        Metric(
            "surprises_per_year", "Surprises per year", COMPANY, "surprises / year", HIGHER,
            "Surprises delivered (gifts, unexpected extras) in the last 12 months, per year.",
            surprises_per_year, commitment_kinds=("surprise", "experience"),
        ),
        Metric(
            "preferred_treatments_per_year", "Preferred treatments per year", COMPANY,
            "treatments / year", HIGHER,
            "Preferred-treatment activities (priority handling, upgrades on us) in the "
            "last 12 months, per year.",
            preferred_treatments_per_year, commitment_kinds=("preferred",),
        ),
        Metric(
            "dedicated_manager_assigned", "Dedicated manager assigned", COMPANY, "yes = 1",
            HIGHER,
            "1 when the customer has a named account manager, 0 otherwise.",
            dedicated_manager_assigned, commitment_kinds=("preferred", "experience"),
        ),
        Metric(
            "average_csat", "Average CSAT", COMPANY, "1–5", HIGHER,
            "Average satisfaction score on the last 12 months' tickets.",
            average_csat, commitment_kinds=("experience", "service_level", "resolution"),
        ),
    ]
}  # fmt: skip


def get_metric(key: str) -> Metric:
    try:
        return METRICS[key]
    except KeyError:
        raise KeyError(f"No metric {key!r} in the catalogue") from None


def metrics_for(side: str) -> list[Metric]:
    return [m for m in METRICS.values() if m.side == side]


def compute_all(
    data: MetricData, requests: list[tuple[str, dict[str, Any] | None]]
) -> dict[tuple[str, tuple], pd.Series]:
    """Compute each distinct (metric, params) once for every customer."""
    out: dict[tuple[str, tuple], pd.Series] = {}
    for key, params in requests:
        metric = get_metric(key)
        resolved = metric.resolve_params(params)
        cache_key = (key, tuple(sorted(resolved.items())))
        if cache_key not in out:
            out[cache_key] = metric(data, resolved)
    return out
