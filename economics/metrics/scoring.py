"""Attainment of a target and the weighted 0–100 score built from attainments
(role fit for the customer's side, commitment compliance for the company's)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .catalogue import LOWER, metric_key


def attainment(actual, target, direction: str) -> np.ndarray:
    """actual / target capped at 1 for "at least" targets; target / actual capped at 1
    for "at most" targets. A zero target is met by anything for "at least" and only by
    zero for "at most". NaN actual (no data) stays NaN. ``target`` may be one number or
    one per customer."""
    actual = np.asarray(actual, dtype="float64")
    target = np.broadcast_to(np.asarray(target, dtype="float64"), actual.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        if direction == LOWER:
            result = np.where(
                target <= 0,
                np.where(actual <= 0, 1.0, 0.0),
                np.where(actual <= target, 1.0, target / actual),
            )
        else:
            result = np.where(target <= 0, 1.0, actual / target)
    return np.where(np.isnan(actual), np.nan, np.clip(result, 0.0, 1.0))


def weighted_score(attainments: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """0–100 weighted mean of attainments per row, over the items that have data.
    ``attainments`` is customers × items; a row with no measurable item is NaN."""
    att = np.asarray(attainments, dtype="float64")
    w = np.broadcast_to(np.asarray(weights, dtype="float64"), att.shape)
    has = ~np.isnan(att)
    total_w = np.where(has, w, 0.0).sum(axis=1)
    total = np.where(has, att * w, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total_w > 0, 100.0 * total / total_w, np.nan)


@dataclass
class PlanItem:
    """One expectation or commitment as it applies to a set of customers: the metric,
    its parameters and direction, and each customer's target and weight (arrays as long
    as ``customer_ids``; read-only, and possibly one number seen as an array)."""

    metric: str
    params: dict
    direction: str
    customer_ids: np.ndarray
    targets: np.ndarray
    weights: np.ndarray


def _key(item: PlanItem) -> tuple:
    return metric_key(item.metric, item.params)


def _add(numerator: np.ndarray, denominator: np.ndarray, item: PlanItem, series, index) -> None:
    positions = index.get_indexer(item.customer_ids)
    actual = series.to_numpy()[positions]
    att = attainment(actual, item.targets, item.direction)
    has = ~np.isnan(att)
    np.add.at(numerator, positions[has], att[has] * item.weights[has])
    np.add.at(denominator, positions[has], item.weights[has])


def _score(numerator: np.ndarray, denominator: np.ndarray, index: pd.Index) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(denominator > 0, 100.0 * numerator / denominator, np.nan)
    return pd.Series(score, index=index)


def score_plan(values: dict[tuple, pd.Series], items: list[PlanItem], index: pd.Index) -> pd.Series:
    """The weighted 0–100 score of every customer in ``index`` over the plan's items.
    ``values`` maps (metric, sorted params) to the metric for all customers."""
    numerator = np.zeros(len(index))
    denominator = np.zeros(len(index))
    for item in items:
        _add(numerator, denominator, item, values[_key(item)], index)
    return _score(numerator, denominator, index)


def score_plans(
    plans: list[list[PlanItem]],
    index: pd.Index,
    value_of: Callable[[str, dict], pd.Series],
    keep: Iterable[tuple] = (),
) -> tuple[list[pd.Series], dict[tuple, pd.Series]]:
    """``score_plan`` of each plan, asking ``value_of(metric, params)`` for each
    (metric, params) once, and letting go of its values after the last item that reads
    them: a million customers' values of every metric are not all held at once. Returns
    the scores and the values of ``keep`` (the keys ``score_plan`` uses) that were
    asked for."""
    keep = set(keep)
    uses = Counter(_key(item) for plan in plans for item in plan)
    values: dict[tuple, pd.Series] = {}
    scores = []
    for plan in plans:
        numerator = np.zeros(len(index))
        denominator = np.zeros(len(index))
        for item in plan:
            key = _key(item)
            if key not in values:
                values[key] = value_of(item.metric, item.params)
            _add(numerator, denominator, item, values[key], index)
            uses[key] -= 1
            if not uses[key] and key not in keep:
                del values[key]
        scores.append(_score(numerator, denominator, index))
    return scores, values
