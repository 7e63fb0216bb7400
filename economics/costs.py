"""Activity-based cost to serve, for every customer at once (plain pandas/numpy).

Cost to serve = Σ activities × the unit cost of their type in force on that date
              + tickets × ticket handling cost + complaints × complaint handling cost
              + concessions (money given away)
              + late invoices × collection cost + amount × days late / 365 × cost of capital
              + the yearly cost of the commitments the customer's agreed charter grants,
                pro rata over the days it was in force.

Each component is computed over a period [start, end) of days, so the same code gives
"to date" and "the trailing twelve months". Amounts are float64 here; the run rounds
them to cents when it stores them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .metrics.catalogue import CustomerRows, days_late

COMPONENTS = ["activities", "tickets", "complaints", "concessions", "collection", "commitments"]


@dataclass(frozen=True)
class CostParams:
    ticket_handling_cost: float
    complaint_handling_cost: float
    collection_cost_per_late_invoice: float
    cost_of_capital_rate: float


def _sum_by(values: pd.Series, keys: pd.Series, index: pd.Index) -> pd.Series:
    return values.groupby(keys.to_numpy()).sum().reindex(index, fill_value=0.0).astype("float64")


def activity_costs(activities: pd.DataFrame, rates: pd.DataFrame) -> pd.Series:
    """quantity × the unit cost in force on each activity's date (0 before any rate).
    ``rates``: activity_type_id, effective_from (datetime64), unit_cost (float); one
    rate per activity type and day."""
    if activities.empty:
        return pd.Series(dtype="float64")
    if rates.empty:  # no unit cost set for any activity type yet
        return pd.Series(0.0, index=activities.index)
    types = activities["activity_type_id"].to_numpy().astype("int64")
    dates = activities["date"].to_numpy().astype("datetime64[ns]")
    unit_cost = np.zeros(len(activities))
    r = rates.sort_values("effective_from")
    rate_types = r["activity_type_id"].to_numpy().astype("int64")
    for type_id in np.unique(rate_types):
        mine = rate_types == type_id
        since = r["effective_from"].to_numpy()[mine].astype("datetime64[ns]")
        costs = r["unit_cost"].to_numpy(dtype="float64")[mine]
        rows = np.flatnonzero(types == type_id)
        # The latest rate in force on the day: effective on or before it.
        k = np.searchsorted(since, dates[rows], side="right") - 1
        unit_cost[rows] = np.where(k >= 0, costs[np.maximum(k, 0)], 0.0)
    cost = activities["quantity"].to_numpy(dtype="float64") * unit_cost
    return pd.Series(cost, index=activities.index)


def _late_cost(invoices: pd.DataFrame, days: np.ndarray, p: CostParams) -> np.ndarray:
    """Collection cost of each late invoice + the capital its lateness cost."""
    cost = invoices["amount"].to_numpy(dtype="float64") * days
    cost /= 365.0
    cost *= p.cost_of_capital_rate
    cost += np.where(days > 0, p.collection_cost_per_late_invoice, 0.0)
    return cost


def late_invoice_costs(invoices: pd.DataFrame, as_of: pd.Timestamp, p: CostParams) -> pd.DataFrame:
    """Per invoice: is it late (paid after its due date, or unpaid and past due), days
    late (until payment, or until ``as_of``), and its collection + capital cost."""
    days = days_late(invoices, as_of)
    return pd.DataFrame(
        {"late": days > 0, "days_late": days, "cost": _late_cost(invoices, days, p)},
        index=invoices.index,
    )


def commitment_costs(
    charters: pd.DataFrame, index: pd.Index, start: pd.Timestamp, end: pd.Timestamp
) -> pd.Series:
    """Yearly commitment cost × the share of [start, end) the charter was in force.
    ``charters``: customer_id, in_force_from, in_force_until (NaT = still in force),
    yearly_cost."""
    if charters.empty:
        return pd.Series(0.0, index=index)
    begin = charters["in_force_from"].clip(lower=start)
    finish = charters["in_force_until"].fillna(end).clip(upper=end)
    days = (finish - begin).dt.days.clip(lower=0).astype("float64")
    cost = charters["yearly_cost"].astype("float64") * days / 365.0
    return _sum_by(cost, charters["customer_id"], index)


def _sum_over_periods(
    customer_id: pd.Series,
    dates: pd.Series,
    values: dict[str, np.ndarray],
    index: pd.Index,
    periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]],
) -> dict[str, dict[str, pd.Series]]:
    """Per period, per customer, the sum of each of ``values`` over the rows dated in
    the period."""
    rows = CustomerRows(customer_id, index)
    out: dict[str, dict[str, pd.Series]] = {}
    for name, (start, end) in periods.items():
        within = ((dates >= start) & (dates < end)).to_numpy()
        mask = None if within.all() else within
        out[name] = {key: rows.sum(v, mask) for key, v in values.items()}
    return out


def cost_to_serve_periods(
    *,
    index: pd.Index,
    activities: pd.DataFrame,
    rates: pd.DataFrame,
    tickets: pd.DataFrame,
    invoices: pd.DataFrame,
    charters: pd.DataFrame,
    params: CostParams,
    periods: dict[str, tuple[pd.Timestamp, pd.Timestamp]],
    as_of: pd.Timestamp,
) -> dict[str, pd.DataFrame]:
    """``cost_to_serve`` over each named period [start, end): what each activity, ticket
    and invoice costs is worked out once, then summed per period, one table at a time."""
    concession = (
        activities["amount"].astype("float64").where(activities["kind"] == "concession", 0.0)
    )
    by_activities = _sum_over_periods(
        activities["customer_id"], activities["date"],
        {"activities": activity_costs(activities, rates), "concessions": concession},
        index, periods,
    )  # fmt: skip
    del concession
    complaint = tickets["is_complaint"].astype(bool).to_numpy()
    by_tickets = _sum_over_periods(
        tickets["customer_id"], tickets["opened_at"],
        {"tickets": ~complaint, "complaints": complaint}, index, periods,
    )  # fmt: skip
    by_invoices = _sum_over_periods(
        invoices["customer_id"], invoices["due_on"],
        {"collection": _late_cost(invoices, days_late(invoices, as_of), params)},
        index, periods,
    )  # fmt: skip
    out = {}
    for name, (start, end) in periods.items():
        a, t, i = by_activities[name], by_tickets[name], by_invoices[name]
        frame = pd.DataFrame(
            {
                "activities": a["activities"],
                "tickets": t["tickets"] * params.ticket_handling_cost,
                "complaints": t["complaints"] * params.complaint_handling_cost,
                "concessions": a["concessions"],
                "collection": i["collection"],
                "commitments": commitment_costs(charters, index, start, end),
            },
            index=index,
        )
        frame["total"] = frame[COMPONENTS].sum(axis=1)
        out[name] = frame
    return out


def cost_to_serve(*, start: pd.Timestamp, end: pd.Timestamp, **inputs) -> pd.DataFrame:
    """The components of the cost to serve each customer over [start, end), and the
    total. Invoices count in the period they fell due; tickets in the period opened.
    ``inputs``: as ``cost_to_serve_periods`` takes them."""
    return cost_to_serve_periods(periods={"period": (start, end)}, **inputs)["period"]
