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
    ``rates``: activity_type_id, effective_from (datetime64), unit_cost (float)."""
    if activities.empty:
        return pd.Series(dtype="float64")
    if rates.empty:  # no unit cost set for any activity type yet
        return pd.Series(0.0, index=activities.index)
    acts = activities[["activity_type_id", "date", "quantity"]].copy()
    acts["activity_type_id"] = acts["activity_type_id"].astype("int64")
    acts["_row"] = np.arange(len(acts))
    acts = acts.sort_values("date")
    r = rates.sort_values("effective_from").astype({"activity_type_id": "int64"})
    merged = pd.merge_asof(
        acts,
        r[["activity_type_id", "effective_from", "unit_cost"]],
        left_on="date",
        right_on="effective_from",
        by="activity_type_id",
        direction="backward",
    )
    merged["unit_cost"] = merged["unit_cost"].fillna(0.0)
    cost = (merged["quantity"] * merged["unit_cost"]).to_numpy()
    out = np.empty(len(acts))
    out[merged["_row"].to_numpy()] = cost
    return pd.Series(out, index=activities.index)


def late_invoice_costs(invoices: pd.DataFrame, as_of: pd.Timestamp, p: CostParams) -> pd.DataFrame:
    """Per invoice: is it late (paid after its due date, or unpaid and past due), days
    late (until payment, or until ``as_of``), and its collection + capital cost."""
    settled = invoices["paid_on"].fillna(as_of)
    days_late = (settled - invoices["due_on"]).dt.days.clip(lower=0).astype("float64")
    late = days_late > 0
    capital = invoices["amount"].astype("float64") * days_late / 365.0 * p.cost_of_capital_rate
    cost = np.where(late, p.collection_cost_per_late_invoice, 0.0) + capital
    return pd.DataFrame({"late": late, "days_late": days_late, "cost": cost}, index=invoices.index)


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


def cost_to_serve(
    *,
    index: pd.Index,
    activities: pd.DataFrame,
    rates: pd.DataFrame,
    tickets: pd.DataFrame,
    invoices: pd.DataFrame,
    charters: pd.DataFrame,
    params: CostParams,
    start: pd.Timestamp,
    end: pd.Timestamp,
    as_of: pd.Timestamp,
) -> pd.DataFrame:
    """The components of the cost to serve each customer over [start, end), and the
    total. Invoices count in the period they fell due; tickets in the period opened."""
    a = activities[(activities["date"] >= start) & (activities["date"] < end)]
    t = tickets[(tickets["opened_at"] >= start) & (tickets["opened_at"] < end)]
    i = invoices[(invoices["due_on"] >= start) & (invoices["due_on"] < end)]

    activity = _sum_by(activity_costs(a, rates), a["customer_id"], index)
    concession_amounts = a["amount"].astype("float64").where(a["kind"] == "concession", 0.0)
    concessions = _sum_by(concession_amounts, a["customer_id"], index)
    complaints = t["is_complaint"].astype(bool)
    ticket_cost = _sum_by((~complaints).astype("float64"), t["customer_id"], index)
    complaint_cost = _sum_by(complaints.astype("float64"), t["customer_id"], index)
    late = late_invoice_costs(i, as_of, params)
    frame = pd.DataFrame(
        {
            "activities": activity,
            "tickets": ticket_cost * params.ticket_handling_cost,
            "complaints": complaint_cost * params.complaint_handling_cost,
            "concessions": concessions,
            "collection": _sum_by(late["cost"], i["customer_id"], index),
            "commitments": commitment_costs(charters, index, start, end),
        },
        index=index,
    )
    frame["total"] = frame[COMPONENTS].sum(axis=1)
    return frame
