"""Attainment of a target and the weighted 0–100 score built from attainments
(role fit for the customer's side, commitment compliance for the company's)."""

from __future__ import annotations

import numpy as np

from .catalogue import LOWER


def attainment(actual, target: float, direction: str) -> np.ndarray:
    """actual / target capped at 1 for "at least" targets; target / actual capped at 1
    for "at most" targets. A zero target is met by anything for "at least" and only by
    zero for "at most". NaN actual (no data) stays NaN."""
    actual = np.asarray(actual, dtype="float64")
    target = float(target)
    with np.errstate(divide="ignore", invalid="ignore"):
        if direction == LOWER:
            if target <= 0:
                result = np.where(actual <= 0, 1.0, 0.0)
            else:
                result = np.where(actual <= target, 1.0, target / actual)
        elif target <= 0:
            result = np.ones_like(actual)
        else:
            result = np.clip(actual / target, 0.0, 1.0)
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
