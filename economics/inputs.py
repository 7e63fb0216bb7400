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
from economics.metrics.memory import release_freed_memory
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
    blueprint (in the charters' order), with the charter's own target and weight where
    it has them. Items come in the order of their first charter, a charter's items in
    the definitions' order."""
    if current.empty or definitions.empty:
        return []
    blueprints = current["blueprint_id"].to_numpy()
    customers = current["customer_id"].to_numpy()
    users: dict = {}  # blueprint -> positions of its charters, and their customers
    found: list[tuple[int, int, PlanItem]] = []
    for order, (_, definition) in enumerate(definitions.iterrows()):
        metric = METRICS.get(definition["metric"])
        if metric is None:
            continue
        blueprint = definition["blueprint_id"]
        if blueprint not in users:
            positions = np.flatnonzero(blueprints == blueprint)
            users[blueprint] = (positions, customers[positions])
        positions, customer_ids = users[blueprint]
        # Without overrides every charter has the definition's target and weight: one
        # number seen as an array (no memory per customer).
        target = np.broadcast_to(_float(definition["target"]), len(positions))
        weight = np.broadcast_to(_float(definition["weight"]), len(positions))
        own = overrides[overrides[source] == definition[source]].set_index("charter_id")
        if not own.empty:
            charter_ids = current["charter_id"].iloc[positions]
            keep = ~charter_ids.map(own["o_excluded"]).fillna(False).astype(bool).to_numpy()
            positions, customer_ids, charter_ids = (
                positions[keep],
                customer_ids[keep],
                charter_ids[keep],
            )
            own_target = charter_ids.map(own["o_target"]).astype("float64").to_numpy()
            own_weight = charter_ids.map(own["o_weight"]).astype("float64").to_numpy()
            target = np.where(np.isnan(own_target), target[keep], own_target)
            weight = np.where(np.isnan(own_weight), weight[keep], own_weight)
        if not len(positions):
            continue
        item = PlanItem(
            metric=definition["metric"],
            params=metric.resolve_params(definition["metric_params"]),
            direction=definition["direction"],
            customer_ids=customer_ids,
            targets=target,
            weights=weight,
        )
        found.append((int(positions[0]), order, item))
    return [item for _, _, item in sorted(found, key=lambda f: f[:2])]


def _float(value) -> np.float64:
    """A definition's number (a Decimal, or None for none) as pandas reads it."""
    return pd.Series([value], dtype="object").astype("float64").to_numpy()[0]


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
    inputs = RunInputs(
        data=data,
        rates=_rates(),
        charters=charters,
        expectation_plan=_expectation_plan(current, as_of),
        commitment_plan=_commitment_plan(current, as_of),
        has_role=has_role,
    )
    release_freed_memory()
    return inputs
