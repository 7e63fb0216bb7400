"""Reads everything an economics run needs from the database into frames and plans:
one query per table, whatever the number of customers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from commitments.models import Commitment, CommitmentOverride
from customers.models import ActivityRate
from economics.metrics import METRICS, MetricData
from economics.metrics.data import DATE, INT, _between, load_metric_data, read_frame
from economics.metrics.scoring import PlanItem
from roles.models import Charter, ExpectationOverride, LifecycleExpectation


@dataclass
class RunInputs:
    data: MetricData
    rates: pd.DataFrame
    charters: pd.DataFrame  # every agreed version: when in force and what it costs a year
    expectation_plan: list[PlanItem]
    commitment_plan: list[PlanItem]
    has_role: pd.Series  # customers with an agreed charter in force on as_of


def _rates() -> pd.DataFrame:
    rows = list(ActivityRate.objects.values_list("activity_type_id", "effective_from", "unit_cost"))
    frame = pd.DataFrame(rows, columns=["activity_type_id", "effective_from", "unit_cost"])
    frame["effective_from"] = pd.to_datetime(frame["effective_from"])
    frame["unit_cost"] = frame["unit_cost"].astype("float64")
    return frame


def _charters(as_of: dt.date, id_range: tuple[int, int] | None = None) -> pd.DataFrame:
    """Agreed versions (agreed on or before as_of), with the period each was in force:
    from its agreement to the next version's agreement."""
    within = {} if id_range is None else _between("customer_id", id_range)
    frame = read_frame(
        Charter.objects.filter(
            status__in=[Charter.Status.AGREED, Charter.Status.SUPERSEDED],
            agreed_on__lte=as_of,
            **within,
        ),
        [("customer_id", "customer_id", INT), ("pk", "charter_id", INT),
         ("blueprint_id", "blueprint_id", INT), ("version", "version", INT),
         ("agreed_on", "agreed_on", DATE)],
    )  # fmt: skip
    frame = frame[["charter_id", "customer_id", "blueprint_id", "version", "agreed_on"]]
    frame = frame.sort_values(["customer_id", "version"], kind="stable", ignore_index=True)
    frame["in_force_from"] = frame["agreed_on"]
    frame["in_force_until"] = frame.groupby("customer_id")["in_force_from"].shift(-1)
    frame["yearly_cost"] = _yearly_costs(frame, as_of)
    return frame


def _agreed(as_of: dt.date):
    """The charter versions agreed on or before ``as_of`` (a subquery: the overrides of
    a million charters are not read by a list of a million ids)."""
    return Charter.objects.filter(
        status__in=[Charter.Status.AGREED, Charter.Status.SUPERSEDED], agreed_on__lte=as_of
    ).values("pk")


def _yearly_costs(charters: pd.DataFrame, as_of: dt.date) -> np.ndarray:
    """The blueprint's commitment costs, with the charter's own costs and exclusions."""
    if charters.empty:
        return np.zeros(0)
    base = pd.DataFrame(
        list(Commitment.objects.values_list("pk", "blueprint_id", "yearly_cost")),
        columns=["commitment_id", "blueprint_id", "yearly_cost"],
    )
    base["yearly_cost"] = base["yearly_cost"].astype("float64")
    per_blueprint = base.groupby("blueprint_id")["yearly_cost"].sum()
    cost = charters["blueprint_id"].map(per_blueprint).fillna(0.0).to_numpy(dtype="float64")
    overrides = pd.DataFrame(
        list(
            CommitmentOverride.objects.filter(charter__in=_agreed(as_of)).values_list(
                "charter_id", "commitment_id", "yearly_cost", "excluded"
            )
        ),
        columns=["charter_id", "commitment_id", "override_cost", "excluded"],
    )
    if overrides.empty:
        return cost
    overrides = overrides[overrides["charter_id"].isin(charters["charter_id"])]
    overrides = overrides.merge(base[["commitment_id", "yearly_cost"]], on="commitment_id")
    own = overrides["override_cost"].astype("float64").fillna(overrides["yearly_cost"])
    own = own.where(~overrides["excluded"].astype(bool), 0.0)
    delta = (own - overrides["yearly_cost"]).groupby(overrides["charter_id"]).sum()
    return cost + charters["charter_id"].map(delta).fillna(0.0).to_numpy(dtype="float64")


def _plan(
    current: pd.DataFrame, definitions: pd.DataFrame, overrides: pd.DataFrame, source: str
) -> list[PlanItem]:
    """One PlanItem per measurable definition, over the customers whose charter uses its
    blueprint, with the charter's own target and weight where it has them."""
    items: list[PlanItem] = []
    if current.empty or definitions.empty:
        return items
    rows = current[["charter_id", "customer_id", "blueprint_id"]].merge(
        definitions, on="blueprint_id"
    )
    if not overrides.empty:
        rows = rows.merge(overrides, on=["charter_id", source], how="left")
    else:
        rows = rows.assign(o_target=np.nan, o_weight=np.nan, o_excluded=False)
    rows["o_excluded"] = rows["o_excluded"].fillna(False).astype(bool)
    rows = rows[~rows["o_excluded"]]
    rows["target"] = rows["o_target"].astype("float64").fillna(rows["target"].astype("float64"))
    rows["weight"] = rows["o_weight"].astype("float64").fillna(rows["weight"].astype("float64"))
    for (_, metric_key), group in rows.groupby([source, "metric"], sort=False):
        metric = METRICS.get(metric_key)
        if metric is None:
            continue
        first = group.iloc[0]
        items.append(
            PlanItem(
                metric=metric_key,
                params=metric.resolve_params(first["metric_params"]),
                direction=first["direction"],
                customer_ids=group["customer_id"].to_numpy(),
                targets=group["target"].to_numpy(dtype="float64"),
                weights=group["weight"].to_numpy(dtype="float64"),
            )
        )
    return items


def _expectation_plan(current: pd.DataFrame, as_of: dt.date) -> list[PlanItem]:
    definitions = pd.DataFrame(
        list(
            LifecycleExpectation.objects.filter(excluded=False)
            .exclude(metric="")
            .values_list("pk", "blueprint_id", "metric", "metric_params", "target", "direction",
                         "weight")
        ),
        columns=["expectation_id", "blueprint_id", "metric", "metric_params", "target",
                 "direction", "weight"],
    )  # fmt: skip
    overrides = pd.DataFrame(
        list(
            ExpectationOverride.objects.filter(charter__in=_agreed(as_of)).values_list(
                "charter_id", "expectation_id", "target", "weight", "excluded"
            )
        ),
        columns=["charter_id", "expectation_id", "o_target", "o_weight", "o_excluded"],
    )
    return _plan(current, definitions, overrides, "expectation_id")


def _commitment_plan(current: pd.DataFrame, as_of: dt.date) -> list[PlanItem]:
    definitions = pd.DataFrame(
        list(
            Commitment.objects.exclude(metric="")
            .filter(target__isnull=False)
            .values_list("pk", "blueprint_id", "metric", "metric_params", "target", "direction",
                         "weight")
        ),
        columns=["commitment_id", "blueprint_id", "metric", "metric_params", "target",
                 "direction", "weight"],
    )  # fmt: skip
    overrides = pd.DataFrame(
        list(
            CommitmentOverride.objects.filter(charter__in=_agreed(as_of)).values_list(
                "charter_id", "commitment_id", "target", "excluded"
            )
        ),
        columns=["charter_id", "commitment_id", "o_target", "o_excluded"],
    )
    overrides["o_weight"] = np.nan
    return _plan(current, definitions, overrides, "commitment_id")


def load_run_inputs(*, as_of: dt.date, id_range: tuple[int, int] | None = None) -> RunInputs:
    """Everything a run needs; with ``id_range`` (first, last customer id, inclusive) only
    for those customers: one chunk of a run split across workers."""
    data = load_metric_data(as_of=as_of, id_range=id_range)
    charters = _charters(as_of, id_range)
    current = charters.groupby("customer_id").tail(1) if not charters.empty else charters
    has_role = pd.Series(False, index=data.index)
    has_role.loc[has_role.index.intersection(current["customer_id"])] = True
    return RunInputs(
        data=data,
        rates=_rates(),
        charters=charters,
        expectation_plan=_expectation_plan(current, as_of),
        commitment_plan=_commitment_plan(current, as_of),
        has_role=has_role,
    )
