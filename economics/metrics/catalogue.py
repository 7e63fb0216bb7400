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
from collections.abc import Callable, Hashable
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


def _fits_int32(values: np.ndarray) -> bool:
    info = np.iinfo(np.int32)
    return bool(values.min() >= info.min and values.max() <= info.max)


def _positions(ids: np.ndarray, index: pd.Index) -> np.ndarray:
    """The position of each id in ``index`` (-1 for none), int32 while that fits. Ids
    that are integers over a range not much wider than the index are looked up in a
    table as long as the range (far less memory than hashing ten million ids)."""
    small = len(index) < 2**31
    keys = index.to_numpy()
    if len(ids) and len(keys) and ids.dtype.kind in "iu" and keys.dtype.kind in "iu" and small:
        low, high = int(keys.min()), int(keys.max())
        if high - low <= 4 * len(keys) + 1024:
            table = np.full(high - low + 2, -1, dtype=np.int32)  # the last slot: none
            table[keys - low] = np.arange(len(keys), dtype=np.int32)
            slot = ids - low if low else ids.copy()
            slot[(ids < low) | (ids > high)] = high - low + 1
            return table[slot]
    position = index.get_indexer(ids)
    return position.astype(np.int32) if small else position


class CustomerRows:
    """The rows of one table as positions of their customers in ``index`` (found once):
    per customer sums, means and counts of values over all rows or those of a mask, as
    ``groupby("customer_id")`` gives them (in row order), for every customer in
    ``index`` (a sum of no rows is 0, a mean NaN). Rows of other customers are left
    out."""

    def __init__(self, customer_id, index: pd.Index):
        self.index = index
        self.position = _positions(np.asarray(customer_id), index)

    @classmethod
    def at(cls, position: np.ndarray, index: pd.Index) -> CustomerRows:
        """Rows whose customers' positions in ``index`` are known."""
        rows = cls.__new__(cls)
        rows.index = index
        rows.position = position.astype(np.int32) if len(index) < 2**31 else position
        return rows

    def share(self, flags, within: np.ndarray | None = None) -> pd.Series:
        """Per customer, the share of the rows (of ``within``) where ``flags`` (one per
        row, or per row of ``within``) holds; NaN for a customer with none. The same
        number as ``groupby(...).mean()`` of the flags."""
        flags, position = np.asarray(flags, dtype=bool), self.position
        if within is not None and len(flags) == len(position):
            flags = flags[within]
        if within is not None:
            position = position[within]
        known = position >= 0
        n = len(self.index)
        counts = np.bincount(position[known], minlength=n)
        hits = np.bincount(position[known & flags], minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            shares = np.where(counts > 0, hits / counts, np.nan)
        return pd.Series(shares, index=self.index)

    def mean_of_whole_numbers(self, values, within: np.ndarray | None = None) -> pd.Series:
        """``mean`` of values that are whole numbers (or NaN, left out): their sums are
        exact in any order, so a count does (and much less memory than a groupby)."""
        values, position = np.asarray(values, dtype="float64"), self.position
        if within is not None and len(values) == len(position):
            values = values[within]
        if within is not None:
            position = position[within]
        known = (position >= 0) & ~np.isnan(values)
        position = position[known]
        n = len(self.index)
        totals = np.bincount(position, weights=values[known], minlength=n)
        counts = np.bincount(position, minlength=n).astype("float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            means = np.where(counts > 0, totals / counts, np.nan)
        return pd.Series(means, index=self.index)

    def _grouped(self, values, within):
        values, position = np.asarray(values, dtype="float64"), self.position
        if within is not None and len(values) == len(position):
            values = values[within]
        if within is not None:
            position = position[within]
        keys = pd.Categorical.from_codes(position, categories=pd.RangeIndex(len(self.index)))
        return pd.Series(values).groupby(keys, observed=False)

    def sum(self, values, within: np.ndarray | None = None) -> pd.Series:
        """``values``: one per row, or one per row of ``within`` (a boolean mask)."""
        sums = self._grouped(values, within).sum()
        return pd.Series(sums.to_numpy(dtype="float64"), index=self.index)

    def mean(self, values, within: np.ndarray | None = None) -> pd.Series:
        means = self._grouped(values, within).mean()
        return pd.Series(means.to_numpy(dtype="float64"), index=self.index)

    def count(self, within: np.ndarray | None = None) -> pd.Series:
        position = self.position if within is None else self.position[within]
        counts = np.bincount(position[position >= 0], minlength=len(self.index))
        return pd.Series(counts.astype(np.int64), index=self.index)


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

    Text columns may be str or category. What several metrics (and the engine) derive
    from the same frames — each customer's first purchase, the purchase days, the last
    year's tickets and their business hours — is computed once per bundle and kept in
    ``cached``; the frames are not to be changed once read.
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
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for, the same value after.
        A copy made with ``dataclasses.replace`` or ``truncate`` starts afresh."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def rows(self, table: str) -> CustomerRows:
        """The customers of a table's rows (or of ``purchase_days``), found once."""
        if table == "purchase_days":
            self.purchase_days()  # finds them as it goes
        return self.cached(
            ("rows", table), lambda: CustomerRows(getattr(self, table)["customer_id"], self.index)
        )

    def forget(self) -> None:
        """Let go of what ``cached`` kept (it is computed again when asked for)."""
        self._cache.clear()

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
        """Each customer's first purchase day (NaT for none)."""

        def first() -> pd.Series:
            days = self.purchase_days()  # by customer, then day
            position = self.rows("purchase_days").position
            starts = np.flatnonzero(np.diff(position, prepend=-1) != 0)
            dates = np.full(len(self.index), np.datetime64("NaT"), dtype=days["date"].dtype)
            dates[position[starts]] = days["date"].to_numpy()[starts]
            return pd.Series(dates, index=self.index, name="date")

        return self.cached("first_purchase", first)

    def purchase_days(self) -> pd.DataFrame:
        """customer_id, date, sorted by customer (in the order of ``index``) then date:
        the days each customer bought on (orders on the same day are one purchase)."""
        return self.cached("purchase_days", self._purchase_days)

    def _purchase_days(self) -> pd.DataFrame:
        dates = self.orders["date"].to_numpy()
        position = self.rows("orders").position
        mine = position >= 0
        if not mine.all():
            dates, position = dates[mine], position[mine]
        ticks = dates.view(np.int64)
        first = int(ticks.min()) if len(ticks) else 0
        span = int(ticks.max()) - first + 1 if len(ticks) else 1
        if span * max(len(self.index), 1) < 2**62:  # one integer per (customer, day)
            key = position.astype(np.int64)
            key *= span
            key += ticks
            key -= first
            key.sort()  # (np.unique is far slower on ten million keys)
            new = np.ones(len(key), dtype=bool)
            np.not_equal(key[1:], key[:-1], out=new[1:])
            key = key[new]
            del new
            position = (key // span).astype(position.dtype)
            np.remainder(key, span, out=key)
            key += first
            ticks = key
        else:
            order = np.lexsort((ticks, position))
            position, ticks = position[order], ticks[order]
            new = np.ones(len(ticks), dtype=bool)
            new[1:] = (position[1:] != position[:-1]) | (ticks[1:] != ticks[:-1])
            position, ticks = position[new], ticks[new]
        ids = self.index.to_numpy()
        if len(ids) and ids.dtype.kind in "iu" and _fits_int32(ids):
            ids = ids.astype(np.int32)  # as the history tables hold them
        frame = pd.DataFrame(
            {"customer_id": ids[position], "date": ticks.view(dates.dtype)}, copy=False
        )
        self._cache[("rows", "purchase_days")] = CustomerRows.at(position, self.index)
        return frame

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
        return self.cached("window_years", self._window_years)

    def _window_years(self) -> pd.Series:
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


def _count_in_window(
    frame: pd.DataFrame, data: MetricData, date_col: str = "date", where=None
) -> pd.Series:
    """Rows of ``frame`` (those of ``where`` if given) in the last twelve months, per
    customer."""
    within = (frame[date_col] >= data.window_start()).to_numpy()
    if where is not None:
        within = within & np.asarray(where, dtype=bool)
    return CustomerRows(frame["customer_id"][within], data.index).count()


def _per_year(counts: pd.Series, data: MetricData) -> pd.Series:
    return counts.astype("float64") / data.window_years()


def _transactions(data: MetricData) -> pd.DataFrame:
    """Purchase days: orders on the same day are one transaction."""
    return data.purchase_days()


def _safe_ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype("float64")
    return num.astype("float64").div(den.where(den != 0))


# --- customer side ------------------------------------------------------------------


def purchases_per_year(data: MetricData, params: dict) -> pd.Series:
    tx = _transactions(data)
    recent = (tx["date"] >= data.window_start()).to_numpy()
    return _per_year(data.rows("purchase_days").count(recent), data)


def repeat_purchases_per_year(data: MetricData, params: dict) -> pd.Series:
    tx = _transactions(data)
    rows = data.rows("purchase_days")
    first = data.first_purchase().to_numpy()[np.maximum(rows.position, 0)]
    repeat = (tx["date"].to_numpy() > first) & (tx["date"] >= data.window_start()).to_numpy()
    return _per_year(rows.count(repeat), data)


def average_order_value(data: MetricData, params: dict) -> pd.Series:
    return data.rows("orders").mean(data.orders["revenue"])


def _margin_between(data: MetricData, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    o = data.orders
    within = ((o["date"] >= start) & (o["date"] < end)).to_numpy()
    margin = o["revenue"].to_numpy()[within] - o["cost"].to_numpy()[within]
    return data.rows("orders").sum(margin, within)


def annual_value(data: MetricData, params: dict) -> pd.Series:
    return _margin_between(data, data.window_start(), data.end_of_day)


def annual_value_growth_pct(data: MetricData, params: dict) -> pd.Series:
    now = _margin_between(data, data.window_start(), data.end_of_day)
    before = _margin_between(data, data.window_start(years=2), data.window_start())
    return (now - before) / before.where(before > 0) * 100.0


def upgrades_per_year(data: MetricData, params: dict) -> pd.Series:
    o = data.orders
    return _per_year(_count_in_window(o, data, where=o["kind"] == "upgrade"), data)


def cross_sold_categories(data: MetricData, params: dict) -> pd.Series:
    category = data.orders["category"]
    named = (category.fillna("") != "").to_numpy()
    distinct = category[named].groupby(data.orders["customer_id"][named]).nunique()
    return (distinct.reindex(data.index) - 1).clip(lower=0)


def days_late(invoices: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """Whole days from each invoice's due date to its payment (to ``as_of`` while
    unpaid), 0 when paid on time, as float64."""
    settled = invoices["paid_on"].to_numpy().copy()
    settled[np.isnat(settled)] = as_of.to_datetime64()
    days = (settled - invoices["due_on"].to_numpy()) // np.timedelta64(1, "D")
    del settled
    np.maximum(days, 0, out=days)
    return days.astype("float64")


def _due(data: MetricData) -> np.ndarray:
    """Which invoices are already due."""
    return (data.invoices["due_on"] < data.as_of_ts).to_numpy()


def on_time_payment_share(data: MetricData, params: dict) -> pd.Series:
    paid, due_on = data.invoices["paid_on"].to_numpy(), data.invoices["due_on"].to_numpy()
    on_time = ~np.isnat(paid) & (paid <= due_on)
    return data.rows("invoices").share(on_time, _due(data))


def average_days_late(data: MetricData, params: dict) -> pd.Series:
    late = days_late(data.invoices, data.as_of_ts)  # whole days
    return data.rows("invoices").mean_of_whole_numbers(late, _due(data))


def referrals_per_year(data: MetricData, params: dict) -> pd.Series:
    return _per_year(_count_in_window(data.referrals, data), data)


def surveys_per_year(data: MetricData, params: dict) -> pd.Series:
    return _per_year(_count_in_window(data.feedback, data), data)


def insights_per_year(data: MetricData, params: dict) -> pd.Series:
    fb = data.feedback
    return _per_year(_count_in_window(fb, data, where=fb["has_insight"]), data)


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
    days_bought = data.purchase_days()  # a day with several orders is one purchase
    days_bought = days_bought[days_bought["customer_id"].isin(complaints["customer_id"])]
    pairs = complaints.merge(days_bought, on="customer_id", how="left")
    after = (pairs["date"] >= pairs["opened_at"].dt.normalize()) & (
        pairs["date"] <= pairs["opened_at"] + pd.Timedelta(days=days)
    )
    kept = after.groupby(pairs["complaint"]).any()
    complaints["kept_buying"] = kept.reindex(complaints["complaint"]).to_numpy()
    return complaints.groupby("customer_id")["kept_buying"].mean()


def complaints_per_year(data: MetricData, params: dict) -> pd.Series:
    t = data.tickets
    return _per_year(_count_in_window(t, data, "opened_at", where=t["is_complaint"]), data)


def tenure_months(data: MetricData, params: dict) -> pd.Series:
    start = data.start_of_relationship()
    return (data.end_of_day - start).dt.days / (YEAR_DAYS / 12)


def gross_margin_pct(data: MetricData, params: dict) -> pd.Series:
    # A customer without orders has no revenue: no figure, as for zero revenue.
    rows = data.rows("orders")
    revenue, cost = rows.sum(data.orders["revenue"]), rows.sum(data.orders["cost"])
    return _safe_ratio(revenue - cost, revenue) * 100.0


# --- company side -------------------------------------------------------------------


def _recent_tickets(data: MetricData) -> pd.DataFrame:
    def recent() -> pd.DataFrame:
        t = data.tickets
        return t[t["opened_at"] >= data.window_start()]

    return data.cached("recent_tickets", recent)


def _business_hours(data: MetricData, column: str | None) -> np.ndarray:
    """Business hours from the opening of each of the last year's tickets to its
    ``column`` (None: to the end of the as-of day), computed once per bundle."""

    def hours() -> np.ndarray:
        t = _recent_tickets(data)
        if column is None:
            until = np.full(len(t), np.datetime64(data.end_of_day.to_datetime64(), "s"))
        else:
            until = t[column].to_numpy()
        return business_hours_between(t["opened_at"].to_numpy(), until, data.calendar)

    return data.cached(("business_hours", column), hours)


def _within_target_share(data: MetricData, column: str, hours: float) -> pd.Series:
    """Share of the last year's tickets answered (or resolved) within ``hours`` business
    hours. A ticket still waiting counts as missed once the target has passed; before
    that it is not judged yet."""
    t = _recent_tickets(data)
    done = _business_hours(data, column)
    waited_so_far = _business_hours(data, None)
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
    sel = a[["customer_id", "quantity"]][(a["kind"] == kind) & (a["date"] >= data.window_start())]
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


def _spread(by_channel: pd.Series) -> pd.Series:
    """Highest minus lowest of each customer's figures by channel (needs two)."""
    per_customer = by_channel.groupby(level="customer_id")
    spread = per_customer.max() - per_customer.min()
    return spread.where(per_customer.size() >= 2)


def csat_spread_across_channels(data: MetricData, params: dict) -> pd.Series:
    t = _recent_tickets(data)[["customer_id", "channel", "csat"]]
    t = t[t["csat"].notna()]
    return _spread(t.groupby(["customer_id", "channel"], observed=True)["csat"].mean())


def response_time_spread_across_channels(data: MetricData, params: dict) -> pd.Series:
    t = _recent_tickets(data)
    hours = _business_hours(data, "first_response_at")
    frame = pd.DataFrame(
        {"customer_id": t["customer_id"].to_numpy(), "channel": t["channel"].to_numpy(), "h": hours}
    ).dropna()
    return _spread(frame.groupby(["customer_id", "channel"], observed=True)["h"].median())


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


def metric_key(metric: str, resolved: dict[str, Any]) -> tuple[str, tuple]:
    """How a metric computed with (resolved) parameters is known in a table of values."""
    return (metric, tuple(sorted(resolved.items())))


def compute_all(
    data: MetricData, requests: list[tuple[str, dict[str, Any] | None]]
) -> dict[tuple[str, tuple], pd.Series]:
    """Compute each distinct (metric, params) once for every customer."""
    out: dict[tuple[str, tuple], pd.Series] = {}
    for key, params in requests:
        metric = get_metric(key)
        resolved = metric.resolve_params(params)
        cache_key = metric_key(key, resolved)
        if cache_key not in out:
            out[cache_key] = metric(data, resolved)
    return out
