"""Customer lifetime value: BG/NBD for repeat purchases and P(alive), Gamma-Gamma for the
margin per purchase (Fader, Hardie & Lee 2005), fitted by maximum likelihood.

Plain numpy/scipy/pandas working on whole arrays, no Django import, so it can be tested
and benchmarked alone (``python -m economics.clv --customers 1000000``). A thin layer
elsewhere moves data between the ORM and these arrays. The formulas, units and the
reasoning behind the test tolerances are in ``docs/clv.md``.

Time unit: weeks (days / 7) everywhere. Notation follows the papers: ``x`` repeat
transactions, ``t_x`` weeks from the first to the last purchase, ``T`` weeks from the
first purchase to the as-of date, ``m`` mean margin per repeat transaction.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import special

DAYS_PER_WEEK = 7.0
WEEKS_PER_YEAR = 52.0  # discounting: (1 + d) ** (-t / 52) with t in weeks

# Parameters are optimised as log(theta) inside these bounds; an optimum beyond
# ABSURD_LOW..ABSURD_HIGH means the likelihood runs off to a degenerate limit (no
# dropouts seen, no repeat purchases, ...) and the fit is refused.
_LOG_BOUND = math.log(1e9)
ABSURD_LOW, ABSURD_HIGH = 1e-7, 1e7
# Converged when one more Newton step would raise the total log-likelihood by less than
# this: every parameter is then within ~sqrt(2 * 1e-6) = 0.0014 standard errors of the
# maximum (the Newton decrement is half the squared step measured in standard errors).
_NEWTON_DECREMENT_TOL = 1e-6
_MAX_NEWTON_STEPS = 50
_MAX_LOG_STEP = 2.0  # no parameter moves by more than a factor e^2 in one step
# A maximum is refused as flat when the smallest eigenvalue of the Hessian of the mean
# log-likelihood (in log-parameters) is below this times the largest: along that
# combination of parameters the standard error exceeds 1e4 / sqrt(customers) log units
# (a factor e^10 at a million customers). Fitted bases show ratios of 1e-3 to 1e-2; a
# base that does not identify the dropout process, 1e-11.
_FLAT = 1e-8
# Fits over more than 4 x this many rows start from the maximum on a sample this size.
_WARM_START_ROWS = 32_768
_BLOCK = 32_768  # rows per block of the per-customer sums: a block's arrays fit in cache


class FitError(RuntimeError):
    """The model could not be fitted to this data; never score with such a fit."""


# --------------------------------------------------------------------------- summary


@dataclass(frozen=True)
class RFM:
    """Per-customer sufficient statistics, one entry per customer, sorted by id."""

    customer_id: NDArray
    frequency: NDArray[np.int64]  # x: repeat transactions (distinct purchase days - 1)
    recency: NDArray[np.float64]  # t_x: weeks from first to last purchase
    age: NDArray[np.float64]  # T: weeks from first purchase to as_of
    monetary: NDArray[np.float64]  # m: mean margin per repeat transaction, 0 when x == 0
    n_transactions: NDArray[np.int64]  # distinct purchase days in the data up to as_of
    total_margin: NDArray[np.float64]  # all margin up to as_of, first purchase included
    first_purchase: NDArray  # datetime64[D]: the customer's birth (time 0)
    last_purchase: NDArray  # datetime64[D]

    @property
    def x(self) -> NDArray[np.int64]:
        return self.frequency

    @property
    def t_x(self) -> NDArray[np.float64]:
        return self.recency

    @property
    def T(self) -> NDArray[np.float64]:
        return self.age

    @property
    def m(self) -> NDArray[np.float64]:
        return self.monetary

    def __len__(self) -> int:
        return len(self.customer_id)


_NAT = np.iinfo(np.int64).min


def _day_numbers(dates: ArrayLike) -> tuple[NDArray[np.int64], int, int]:
    """Days since 1970-01-01 (floored, as ``datetime64[D]`` does), and the first and
    last of them; the first is the smallest int64 when a date is NaT. Datetimes finer
    than a day are floor-divided as integers into int32, several times faster than
    numpy's unit conversion."""
    values = np.asarray(dates)
    if values.dtype.kind == "M":
        unit, count = np.datetime_data(values.dtype)
        per_day = int(np.timedelta64(1, "D") // np.timedelta64(1, unit))
        if unit in ("D", "h", "m", "s", "ms", "us", "ns") and count == 1:
            raw = values.view(np.int64)
            if not len(raw):
                return raw, 0, 0
            lo, hi = int(raw.min()), int(raw.max())
            if lo == _NAT:
                return raw, _NAT, hi
            lo, hi = lo // per_day, hi // per_day
            if per_day == 1:
                return raw, lo, hi
            # int32 days (they fit for +-5 million years): half the memory to write
            small = np.iinfo(np.int32).min < lo and hi < np.iinfo(np.int32).max
            day = np.empty(len(raw), dtype=np.int32 if small else np.int64)
            return np.floor_divide(raw, per_day, out=day, casting="unsafe"), lo, hi
    day = np.asarray(values, dtype="datetime64[D]").view(np.int64)
    return day, int(day.min()) if len(day) else 0, int(day.max()) if len(day) else 0


def _customer_slots(ids: NDArray) -> tuple[NDArray[np.integer], int, NDArray]:
    """A slot per possible customer: ``codes`` (one per row, in 0..slots-1) and the id of
    every slot. Integer ids over a range not much wider than the rows are their own
    slots (shifted so the smallest is 0 when that saves room): no hashing and no pass
    over the rows. Other ids are factorised; every slot then holds a customer."""
    if ids.dtype.kind in "iu" and len(ids):
        lo, hi = int(ids.min()), int(ids.max())
        if hi - lo <= 4 * len(ids) + 1024:
            base = 0 if 0 <= lo <= len(ids) else lo
            codes = ids.astype(np.int64, copy=False) if base == 0 else (ids - base).astype(np.int64)
            return codes, hi - base + 1, np.arange(base, hi + 1, dtype=np.int64)
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype(np.int64, copy=False), len(uniques), np.asarray(uniques)


def summarise(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    margins: ArrayLike,
    as_of,
    first_dates: Mapping | pd.Series | None = None,
) -> RFM:
    """Build the BG/NBD / Gamma-Gamma summary from order rows.

    One row per order: customer id, order date (anything numpy turns into
    ``datetime64``; times of day are ignored) and gross margin. Orders after ``as_of``
    are ignored. Orders on the same day are one transaction, their margins summed. The
    first transaction is the customer's birth; ``x`` counts the transactions after it.

    ``first_dates`` optionally maps customer id -> the date of the customer's first
    purchase, for histories that start before the loaded orders. When that date is
    earlier than the customer's earliest loaded order, time 0 moves back to it and every
    loaded transaction is a repeat one; a missing, later or NaT date is ignored (the
    earliest order stays the first purchase). Only customers with at least one order on
    or before ``as_of`` appear in the result.
    """
    ids = np.asarray(customer_ids)
    day, d0, d1 = _day_numbers(dates)
    amounts = np.asarray(margins, dtype=np.float64)
    if not (ids.ndim == day.ndim == amounts.ndim == 1) or not (
        len(ids) == len(day) == len(amounts)
    ):
        raise ValueError("customer_ids, dates and margins must be 1-d arrays of equal length")
    as_of_int = int(np.datetime64(as_of, "D").astype(np.int64))
    if len(day):
        if d0 == _NAT:
            raise ValueError("an order has no date")
        if d1 > as_of_int:
            if not np.isfinite(amounts).all():
                raise ValueError("an order margin is NaN or infinite")
            keep = day <= as_of_int
            ids, day, amounts = ids[keep], day[keep], amounts[keep]
            d0, d1 = (int(day.min()), int(day.max())) if len(day) else (0, 0)

    codes, slots, slot_ids = _customer_slots(ids)
    rows_per_slot = np.bincount(codes, minlength=slots)
    total = np.bincount(codes, weights=amounts, minlength=slots).astype(np.float64, copy=False)
    if not np.isfinite(total).all() and not np.isfinite(amounts).all():
        raise ValueError("an order margin is NaN or infinite")
    live = np.flatnonzero(rows_per_slot)
    k = len(live)

    # One sorted key per row, customer slot then day: each customer's rows are then a
    # run, starting on its first day and ending on its last; equal neighbours are
    # orders on the same day. Orders that arrive grouped by customer and date skip the
    # sort. int32 keys sort several times faster than int64 ones.
    first = np.zeros(k, dtype=np.int64)
    last = np.zeros(k, dtype=np.int64)
    n_days = np.zeros(k, dtype=np.int64)
    if len(day):
        span = d1 - d0 + 1
        small = (slots - 1) * span + span - 1 + abs(d0) < np.iinfo(np.int32).max
        key = np.empty(len(day), dtype=np.int32 if small else np.int64)
        np.multiply(codes, span, out=key, casting="unsafe")
        np.add(key, day, out=key, casting="unsafe")  # slot * span + day: d0 is a shift
        if (key[1:] < key[:-1]).any():
            key.sort()
        ends = np.cumsum(rows_per_slot)[live]
        base = live * span
        first = key[ends - rows_per_slot[live]] - base
        last = key[ends - 1] - base
        same_day = np.flatnonzero(key[1:] == key[:-1])
        repeats = np.bincount((key[same_day] - d0) // span, minlength=slots)
        n_days = rows_per_slot[live] - repeats[live]
        first_in_slot = np.zeros(slots, dtype=day.dtype)
        first_in_slot[live] = first
        on_first = day == first_in_slot[codes]
        first_margin = np.bincount(codes[on_first], weights=amounts[on_first], minlength=slots)
    else:
        first_margin = np.zeros(slots)
    total, first_margin = total[live], first_margin[live]
    unique_ids = slot_ids[live]

    birth = first
    if first_dates is not None:
        known = pd.to_datetime(pd.Series(first_dates)).reindex(unique_ids)
        known_day = known.to_numpy(dtype="datetime64[D]")
        known_int = np.where(np.isnat(known_day), first, known_day.astype(np.int64))
        birth = np.minimum(first, known_int)
    before_data = birth < first  # the first purchase is not among the loaded orders
    x = np.where(before_data, n_days, n_days - 1)
    repeat_margin = np.where(before_data, total, total - first_margin)
    m = np.where(x > 0, repeat_margin / np.maximum(x, 1), 0.0)
    return RFM(
        customer_id=unique_ids,
        frequency=x,
        recency=(last - birth) / DAYS_PER_WEEK * (x > 0),
        age=(as_of_int - birth) / DAYS_PER_WEEK,
        monetary=m,
        n_transactions=n_days,
        total_margin=total,
        first_purchase=birth.astype("datetime64[D]"),
        last_purchase=last.astype("datetime64[D]"),
    )


# ----------------------------------------------------------------- shared machinery


def _as_float(*arrays: ArrayLike) -> list[NDArray[np.float64]]:
    return [np.asarray(a, dtype=np.float64) for a in np.broadcast_arrays(*arrays)]


def _check_rfm(x: NDArray, t_x: NDArray, T: NDArray) -> None:
    if not (np.isfinite(x).all() and np.isfinite(t_x).all() and np.isfinite(T).all()):
        raise ValueError("x, t_x and T must be finite")
    if (x < 0).any() or (x != np.round(x)).any():
        raise ValueError("x (repeat transactions) must be non-negative integers")
    if (t_x < 0).any() or (t_x > T * (1 + 1e-12) + 1e-12).any():
        raise ValueError("recency must satisfy 0 <= t_x <= T")
    if (t_x[x == 0] != 0).any():
        raise ValueError("a customer without repeat purchases must have t_x = 0")


def _dot(a: NDArray, b: NDArray) -> float:
    """sum(a * b) in numpy's own loop: BLAS's dot splits long vectors over threads,
    which stall when another process holds the other core."""
    return float(np.einsum("i,i->", a, b))


def _codes(values: NDArray, per_unit: float = 1.0) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Per row an index into a table of values, and the table. Values on a grid of
    step 1 / ``per_unit`` (whole counts; with ``DAYS_PER_WEEK``, weeks made of whole
    days) over a range not much wider than the rows index a table of every grid point
    from the smallest to the largest, without hashing; other values are factorised
    (the table is then the distinct values)."""
    if len(values):
        steps = values * per_unit if per_unit != 1 else values.copy()
        np.rint(steps, out=steps)
        lo, hi = steps.min(), steps.max()
        if hi - lo <= 4 * len(values) + 1024:
            back = steps / per_unit if per_unit != 1 else steps
            if np.array_equal(back, values):
                steps -= lo
                return steps.astype(np.intp), np.arange(lo, hi + 1) / per_unit
    # + 0.0: -0.0 and 0.0 are one value; NaN gets a code of its own
    codes, uniques = pd.factorize(values + 0.0, use_na_sentinel=False)
    return codes.astype(np.intp, copy=False), np.asarray(uniques, dtype=np.float64)


def _pair_codes(x: NDArray, T: NDArray) -> tuple[NDArray[np.intp], NDArray, NDArray]:
    """Distinct (x, T) pairs: the pair of each row, and the x and T of every pair."""
    x_index, x_table = _codes(x)
    T_index, T_table = _codes(T, DAYS_PER_WEEK)
    key = x_index * len(T_table) + T_index
    space = len(x_table) * len(T_table)
    if space <= 4 * len(key) + 1024:  # a table over every possible pair: no hashing
        present = np.zeros(space, dtype=bool)
        present[key] = True
        keys = np.flatnonzero(present)
        pair = (np.cumsum(present) - 1)[key]
    else:
        pair, keys = pd.factorize(key)
        keys = np.asarray(keys)
    return pair, x_table[keys // len(T_table)], T_table[keys % len(T_table)]


@dataclass
class _Optimum:
    log_params: NDArray[np.float64]
    log_likelihood: float
    iterations: int
    std_errors: NDArray[np.float64]
    message: str


# A likelihood for the optimiser: called with log-parameters z and an order 0, 1 or 2,
# it returns the mean negative log-likelihood f, then also its gradient and Hessian in
# z. ``n`` is the number of customers (the sum of the weights).
class _Likelihood(Protocol):
    n: float

    def __call__(self, z: NDArray, order: int) -> Any: ...


def _maximise(
    likelihood: _Likelihood,
    start: NDArray,
    names: tuple[str, ...],
    model: str,
) -> _Optimum:
    """Maximise the log-likelihood over log-parameters by Newton's method with the
    analytic Hessian, until the Newton decrement is below tolerance; then take that
    last Newton step too. Far from the maximum, where the Hessian is not negative
    definite, the step follows the gradient scaled by the Hessian's absolute
    eigenvalues; every step is capped and backtracked until it raises the likelihood
    enough (Armijo). Raises FitError when convergence cannot be certified."""
    n_total = likelihood.n

    def evaluate(z: NDArray, order: int):
        with np.errstate(all="ignore"):
            values = likelihood(z, order)
        if order == 0:
            return values if np.isfinite(values) else np.inf
        if not all(np.isfinite(v).all() for v in values):
            return (np.inf, *values[1:])
        return values

    z = np.asarray(start, dtype=np.float64)
    f, g, hess = evaluate(z, 2)
    if not np.isfinite(f):
        raise FitError(f"{model}: the log-likelihood is not finite at the starting values")

    def refuse(reason: str) -> FitError:
        values = ", ".join(f"{n}={v:.6g}" for n, v in zip(names, np.exp(z), strict=True))
        return FitError(f"{model} fit did not converge: {reason} ({values})")

    def check_bounds() -> None:
        for name, value in zip(names, np.exp(z), strict=True):
            if not ABSURD_LOW < value < ABSURD_HIGH:
                raise refuse(
                    f"{name} ran off to {value:.3g}, a degenerate limit of the model; "
                    "the data do not identify it"
                )

    steps = 0
    while True:
        eigen, vectors = np.linalg.eigh(hess)
        concave = eigen.min() > 1e-12 * max(1.0, abs(eigen.max()))
        if concave:
            step = -np.linalg.solve(hess, g)
            decrement = 0.5 * n_total * float(g @ -step)  # total log-likelihood still to gain
            if decrement < _NEWTON_DECREMENT_TOL:
                check_bounds()
                if eigen.min() <= _FLAT * max(1.0, eigen.max()):
                    raise refuse("the log-likelihood is flat or not concave at the optimum")
                break
        else:
            floor = 1e-8 * max(1.0, abs(eigen).max())
            step = -vectors @ ((vectors.T @ g) / np.maximum(np.abs(eigen), floor))
        if steps >= _MAX_NEWTON_STEPS:
            check_bounds()
            raise refuse(f"{steps} Newton steps did not reach the maximum")
        steps += 1
        if (biggest := np.abs(step).max()) > _MAX_LOG_STEP:
            step *= _MAX_LOG_STEP / biggest
        step = np.clip(z + step, -_LOG_BOUND, _LOG_BOUND) - z
        slope = float(g @ step)  # < 0: a descent direction of f
        scale, trial = 1.0, evaluate(z + step, 2)
        while not trial[0] <= f + 1e-4 * scale * slope:
            while True:  # backtrack on f alone, then evaluate the rest where it passes
                scale /= 2
                if scale < 1e-10:
                    check_bounds()
                    raise refuse("no step raises the log-likelihood, yet it is not at a maximum")
                if evaluate(z + scale * step, 0) <= f + 1e-4 * scale * slope:
                    break
            trial = evaluate(z + scale * step, 2)
        z = z + scale * step
        f, g, hess = trial

    # Within tolerance: the last Newton step lands (quadratically) closer still.
    final = evaluate(z + step, 0)
    if final <= f:
        z, f = z + step, final
    check_bounds()
    cov = np.linalg.inv(hess * n_total)
    std_log = np.sqrt(np.diag(cov))
    return _Optimum(
        log_params=z,
        log_likelihood=-f * n_total,
        iterations=steps,
        std_errors=np.exp(z) * std_log,  # delta method: se(theta) = theta * se(log theta)
        message=f"Newton: {steps} step(s), then one within tolerance (decrement {decrement:.2g})",
    )


def _warm_start(
    make: Callable[[slice], _Likelihood],
    n_rows: int,
    start: NDArray,
    names: tuple[str, ...],
    model: str,
) -> NDArray:
    """Starting values for a large fit: the maximum on every k-th row (about
    ``_WARM_START_ROWS`` of them), from which Newton's method needs two or three steps
    on every row instead of the seven or eight it takes from ``start``. ``start``
    itself for small data or a sample that cannot be fitted; the maximum finally
    reached does not depend on where it started."""
    stride = n_rows // _WARM_START_ROWS
    if stride < 4:
        return start
    try:
        return _maximise(make(slice(None, None, stride)), start, names, model).log_params
    except (FitError, np.linalg.LinAlgError):
        return start


# -------------------------------------------------------------------------- BG/NBD


@dataclass(frozen=True)
class BGNBDFit:
    """BG/NBD parameters: purchase rate lambda ~ Gamma(shape r, rate alpha) per week,
    dropout probability after each repeat purchase p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    converged: bool
    iterations: int
    n_customers: int
    message: str
    std_errors: dict[str, float] = field(default_factory=dict)
    time_unit: str = "weeks"


def bgnbd_log_likelihood(
    r: float,
    alpha: float,
    a: float,
    b: float,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> NDArray[np.float64]:
    """Per-customer BG/NBD log-likelihood, Fader, Hardie & Lee (2005), in logs:
    log L = A1 + log(exp(A2) + delta(x > 0) exp(A3)) with
    A1 = log Gamma(r+x) - log Gamma(r) + r log alpha,
    A2 = log B(a, b+x) - log B(a, b) - (r+x) log(alpha+T),
    A3 = log B(a+1, b+x-1) - log B(a, b) - (r+x) log(alpha+t_x)."""
    x_, t_x_, T_ = _as_float(x, t_x, T)
    x1 = np.maximum(x_, 1.0)  # keeps A3's arguments valid where it is masked out
    beta_ab = special.betaln(a, b)
    a1 = special.gammaln(r + x_) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x_) - beta_ab - (r + x_) * np.log(alpha + T_)
    a3 = np.where(
        x_ > 0,
        special.betaln(a + 1, b + x1 - 1) - beta_ab - (r + x_) * np.log(alpha + t_x_),
        -np.inf,
    )
    return a1 + np.logaddexp(a2, a3)


class _BGNBDLikelihood:
    """The BG/NBD log-likelihood of every customer, summed, as a function of the
    log-parameters, with its gradient and Hessian.

    With D = log(a / (b+x-1)) - (r+x) log((alpha+t_x)/(alpha+T)) = A3 - A2, the log
    of one customer's likelihood is A1 + A2 + softplus(D) (softplus(D) = log(1 + e^D),
    0 when x = 0). A1 + A2 splits into terms of x alone and of T alone, so it is summed
    once per distinct x and per distinct T (a few hundred values each); only
    softplus(D) and its derivatives run per customer with a repeat purchase, and there
    only on logs looked up per distinct t_x and T."""

    def __init__(self, x: NDArray, t_x: NDArray, T: NDArray, w: NDArray | None = None):
        self.n = float(len(x) if w is None else w.sum())
        x_index, self.x_table = _codes(x)
        T_code, self.T_values = _codes(T, DAYS_PER_WEEK)
        weight_x = np.bincount(x_index, weights=w, minlength=len(self.x_table))
        present = weight_x > 0
        self.x_values, self.weight_x = self.x_table[present], weight_x[present].astype(float)
        self.weight_T = np.bincount(T_code, weights=w, minlength=len(self.T_values)).astype(float)
        self.x_T = np.bincount(
            T_code, weights=x if w is None else w * x, minlength=len(self.T_values)
        )
        repeat = x > 0  # rows where the "dropped out after t_x" term exists
        self.x_index = x_index[repeat]
        self.x = x[repeat]
        self.T_code = T_code[repeat]
        self.t_code, self.t_values = _codes(t_x[repeat], DAYS_PER_WEEK)
        self.w = None if w is None else w[repeat]

    def _row_sums(self, r: float, alpha: float, a: float, b: float, order: int) -> NDArray:
        """Sums over the repeat customers of softplus(D) and of the products of its
        first and second derivatives with those of D, ``_BLOCK`` rows at a time so
        that every intermediate array stays in the processor's cache."""
        log_T, log_t = np.log(alpha + self.T_values), np.log(alpha + self.t_values)
        inv_T, inv_t = 1.0 / (alpha + self.T_values), 1.0 / (alpha + self.t_values)
        inv_T2, inv_t2 = inv_T * inv_T, inv_t * inv_t
        inv_bx = 1.0 / (b + np.maximum(self.x_table, 1.0) - 1)  # 1/(b+x-1) per x >= 1
        log_D = np.log(a * inv_bx)
        sums = np.zeros(18)
        for lo in range(0, len(self.x), _BLOCK):
            rows = slice(lo, lo + _BLOCK)
            t_code, T_code, x_index = self.t_code[rows], self.T_code[rows], self.x_index[rows]
            w = None if self.w is None else self.w[rows]
            # G = log((alpha+t_x)/(alpha+T)) <= 0, s = r + x, D = log(a/(b+x-1)) - s G
            G = log_t.take(t_code)
            G -= log_T.take(T_code)
            s = self.x[rows] + r
            D = log_D.take(x_index)
            D -= s * G
            e = np.abs(D)
            np.negative(e, out=e)
            np.exp(e, out=e)  # e^-|D|: softplus and the logistic without overflow
            softplus = np.maximum(D, 0.0)
            softplus += np.log1p(e)
            sums[0] += softplus.sum() if w is None else _dot(w, softplus)
            if order == 0:
                continue
            one_e = 1.0 + e
            ws = np.where(D > 0, 1.0, e)
            ws /= one_e  # logistic(D): the share of the "dropped out" term
            if w is not None:
                ws *= w
            H = inv_t.take(t_code)
            H -= inv_T.take(T_code)  # dG/dalpha
            sH = s * H
            v = inv_bx.take(x_index)
            sums[1:5] += ws.sum(), _dot(ws, G), _dot(ws, sH), _dot(ws, v)
            if order == 1:
                continue
            one_e *= one_e
            wq = e / one_e  # logistic'(D)
            if w is not None:
                wq *= w
            K = inv_t2.take(t_code)
            K -= inv_T2.take(T_code)  # -d2G/dalpha2
            K *= s
            wqG, wqsH, vv = wq * G, wq * sH, v * v
            sums[5:18] += (
                _dot(wqG, G),
                _dot(wqG, sH),
                _dot(ws, H),
                _dot(wqsH, sH),
                _dot(ws, K),
                wqG.sum(),
                _dot(wqG, v),
                wqsH.sum(),
                _dot(wqsH, v),
                wq.sum(),
                _dot(wq, v),
                _dot(wq, vv),
                _dot(ws, vv),
            )
        return sums

    def __call__(self, z: NDArray, order: int):
        r, alpha, a, b = np.exp(z)
        theta = np.array([r, alpha, a, b])
        xs, wx, n = self.x_values, self.weight_x, self.n
        wT, xT = self.weight_T, self.x_T
        log_T = np.log(alpha + self.T_values)
        (soft, ws, wsG, wssH, wsv, wqGG, wqGsH, wsH, wqsHsH, wssK, wqG, wqGv, wqsH, wqsHv, wq,
         wqv, wqvv, wsvv) = self._row_sums(r, alpha, a, b, order)  # fmt: skip
        ll = (
            wx @ (special.gammaln(r + xs) + special.betaln(a, b + xs))
            + n * (r * np.log(alpha) - special.gammaln(r) - special.betaln(a, b))
            - (r * wT + xT) @ log_T
            + soft
        )
        if order == 0:
            return -ll / n
        inv_T = 1.0 / (alpha + self.T_values)
        psi_ab = special.digamma(a + b)
        psi_abx = special.digamma(a + b + xs)
        grad = np.array(
            [
                wx @ special.digamma(r + xs)
                + n * (np.log(alpha) - special.digamma(r))
                - wT @ log_T
                - wsG,
                n * r / alpha - (r * wT + xT) @ inv_T - wssH,
                wx @ (psi_ab - psi_abx) + ws / a,
                wx @ (special.digamma(b + xs) - psi_abx - special.digamma(b) + psi_ab) - wsv,
            ]
        )
        grad_z = grad * theta
        if order == 1:
            return -ll / n, -grad_z / n

        tri = special.polygamma(1, a + b) * n - wx @ special.polygamma(1, a + b + xs)
        hess = np.empty((4, 4))
        hess[0, 0] = wx @ special.polygamma(1, r + xs) - n * special.polygamma(1, r) + wqGG
        hess[0, 1] = n / alpha - wT @ inv_T + wqGsH - wsH
        hess[1, 1] = -n * r / alpha**2 + (r * wT + xT) @ (inv_T * inv_T) + wqsHsH + wssK
        hess[0, 2] = -wqG / a
        hess[0, 3] = wqGv
        hess[1, 2] = -wqsH / a
        hess[1, 3] = wqsHv
        hess[2, 2] = tri + (wq - ws) / a**2
        hess[2, 3] = tri - wqv / a
        hess[3, 3] = (
            wx @ (special.polygamma(1, b + xs) - special.polygamma(1, a + b + xs))
            - n * (special.polygamma(1, b) - special.polygamma(1, a + b))
            + wqvv
            + wsvv
        )
        hess = np.triu(hess) + np.triu(hess, 1).T
        hess_z = theta[:, None] * hess * theta[None, :] + np.diag(grad_z)
        return -ll / n, -grad_z / n, -hess_z / n


def fit_bgnbd(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> BGNBDFit:
    """Maximum-likelihood BG/NBD fit over all customers (optionally pre-grouped rows
    with ``weights`` = number of customers per row). Raises FitError when it does not
    converge to a proper maximum."""
    x_, t_x_, T_ = _as_float(x, t_x, T)
    _check_rfm(x_, t_x_, T_)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    if w is not None and (w.shape != x_.shape or (w < 0).any()):
        raise ValueError("weights must be non-negative, one per customer row")
    ones = np.ones_like(x_) if w is None else w
    n_customers = int(np.rint(ones.sum()))
    if n_customers == 0:
        raise FitError("BG/NBD: no customers to fit")
    if not (ones[x_ > 0].sum() > 0):
        raise FitError("BG/NBD: no customer has a repeat purchase; the model is not identified")
    if not (ones[T_ > 0].sum() > 0):
        raise FitError("BG/NBD: every customer was acquired on the as-of date")

    names = ("r", "alpha", "a", "b")
    rate = _dot(x_, ones) / max(_dot(T_, ones), 1e-12)
    start = _warm_start(
        lambda rows: _BGNBDLikelihood(
            x_[rows], t_x_[rows], T_[rows], None if w is None else w[rows]
        ),
        len(x_),
        np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0]),
        names,
        "BG/NBD",
    )
    opt = _maximise(_BGNBDLikelihood(x_, t_x_, T_, w), start, names, "BG/NBD")
    r, alpha, a, b = np.exp(opt.log_params)
    return BGNBDFit(
        r=float(r),
        alpha=float(alpha),
        a=float(a),
        b=float(b),
        log_likelihood=float(opt.log_likelihood),
        converged=True,
        iterations=opt.iterations,
        n_customers=n_customers,
        message=opt.message,
        std_errors=dict(zip(names, map(float, opt.std_errors), strict=True)),
    )


def p_alive(
    fit: BGNBDFit,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> NDArray[np.float64]:
    """P(alive at T | x, t_x, T) = 1 / (1 + delta(x>0) a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),
    computed as a logistic of the log-odds so that it neither overflows nor underflows."""
    x_, t_x_, T_ = _as_float(x, t_x, T)
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    log_odds_dead = (
        np.log(a)
        - np.log(b + np.maximum(x_, 1.0) - 1)
        + (r + x_) * (np.log(alpha + T_) - np.log(alpha + t_x_))
    )
    return np.where(x_ > 0, special.expit(-log_odds_dead), 1.0)


def _purchases_if_alive(fit: BGNBDFit, t: NDArray, x: NDArray, T: NDArray) -> NDArray:
    """E[X(t) | x, t_x, T] / P(alive): Fader, Hardie & Lee (2005) without that factor:

        (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]

    with z = t/(alpha+T+t) in [0, 1). Euler's transformation
    2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z) turns the product into
    (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z): the upper parameters no longer grow
    with x, so nothing overflows for heavy buyers or long horizons. It depends on x and
    T only (not t_x). Evaluated directly the value loses ~1e-16/|a-1| of relative
    precision near the removable singularity at a = 1; within 1e-7 of it, it is
    interpolated linearly between a = 1 -/+ 1e-5 (error ~1e-10 relative)."""
    r, alpha, b = fit.r, fit.alpha, fit.b
    z = t / (alpha + T + t)

    def value(a: float) -> NDArray:
        hyp = special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * (1.0 - np.exp((a - 1) * np.log1p(-z)) * hyp)

    if abs(fit.a - 1) < 1e-7:
        h = 1e-5
        below, above = value(1 - h), value(1 + h)
        return below + (fit.a - (1 - h)) / (2 * h) * (above - below)
    return value(fit.a)


def expected_purchases(
    fit: BGNBDFit,
    t: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
) -> NDArray[np.float64]:
    """E[X(t) | x, t_x, T]: expected repeat purchases in the ``t`` weeks after T
    = P(alive | x, t_x, T) * (expected purchases in t weeks of a customer alive at T).
    With one horizon for everyone, the second factor is evaluated once per distinct
    (x, T) pair."""
    t_, x_, t_x_, T_ = _as_float(t, x, t_x, T)
    if (t_ < 0).any():
        raise ValueError("the horizon t must be non-negative")
    if t_.size and (t_ == t_.flat[0]).all():
        pair, ux, uT = _pair_codes(x_.ravel(), T_.ravel())
        per_pair = _purchases_if_alive(fit, np.full_like(ux, t_.flat[0]), ux, uT)
        if_alive = per_pair[pair].reshape(x_.shape)
    else:
        if_alive = _purchases_if_alive(fit, t_, x_, T_)
    return if_alive * p_alive(fit, x_, t_x_, T_)


def expected_purchases_new(fit: BGNBDFit, t: ArrayLike) -> NDArray[np.float64]:
    """E[X(t)] for a customer just acquired (Fader, Hardie & Lee 2005): the conditional
    expectation with x = t_x = T = 0."""
    t_ = np.asarray(t, dtype=np.float64)
    zero = np.zeros_like(t_)
    return expected_purchases(fit, t_, zero, zero, zero)


# --------------------------------------------------------------------- Gamma-Gamma


@dataclass(frozen=True)
class GammaGammaFit:
    """Margin per transaction ~ Gamma(shape p, rate nu), nu ~ Gamma(shape q, rate gamma)
    across customers; mean margin per transaction in the population p*gamma/(q-1)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    converged: bool
    n_customers: int
    iterations: int = 0
    message: str = ""
    std_errors: dict[str, float] = field(default_factory=dict)
    observed_mean: float = float("nan")  # mean margin per repeat transaction in the data

    @property
    def heavy_tailed(self) -> bool:
        """q <= 1: the fitted margin distribution has no finite mean."""
        return self.q <= 1

    @property
    def population_mean(self) -> float:
        """p gamma / (q - 1). When q <= 1 that mean is infinite (a few customers spend
        enormously more than the rest, as when segments differ by orders of magnitude);
        the observed mean margin per repeat transaction stands in for it."""
        if self.heavy_tailed:
            if not np.isfinite(self.observed_mean):
                raise FitError(
                    f"Gamma-Gamma: q = {self.q:.4g} <= 1, the margin per transaction has no "
                    "finite population mean and no observed mean was recorded"
                )
            return self.observed_mean
        return self.p * self.gamma / (self.q - 1)


def gamma_gamma_log_likelihood(
    p: float, q: float, gamma: float, x: ArrayLike, m: ArrayLike
) -> NDArray[np.float64]:
    """Per-customer log density of the mean margin m over x >= 1 repeat transactions:
    m | nu ~ Gamma(px, rate nu x), nu ~ Gamma(q, rate gamma), nu integrated out."""
    x_, m_ = _as_float(x, m)
    px = p * x_
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m_)
        + px * np.log(x_)
        - (px + q) * np.log(gamma + x_ * m_)
    )


class _GammaGammaLikelihood:
    """The Gamma-Gamma log-likelihood summed over customers, as a function of the
    log-parameters, with its gradient and Hessian: the gamma-function terms once per
    distinct x, only log(gamma + x m) and its powers per customer."""

    def __init__(self, x: NDArray, m: NDArray):
        self.n = float(len(x))
        x_index, table = _codes(x)
        weight_x = np.bincount(x_index, minlength=len(table)).astype(np.float64)
        present = weight_x > 0
        self.x_values, self.weight_x = table[present], weight_x[present]
        self.x, self.xm = x, x * m
        log_m = np.log(m)
        self.sum_log_m, self.sum_x_log_m = log_m.sum(), _dot(x, log_m)

    def __call__(self, z: NDArray, order: int):
        p, q, gamma = np.exp(z)
        theta = np.array([p, q, gamma])
        ux, wx, n = self.x_values, self.weight_x, self.n
        pu = p * ux
        log_ux = np.log(ux)
        log_gamma = np.log(gamma)
        u = gamma + self.xm
        log_u = np.log(u)
        sum_log_u, sum_x_log_u = log_u.sum(), _dot(self.x, log_u)
        ll = (
            wx @ (special.gammaln(pu + q) - special.gammaln(pu) + pu * log_ux)
            + n * (q * log_gamma - special.gammaln(q))
            + p * self.sum_x_log_m
            - self.sum_log_m
            - p * sum_x_log_u
            - q * sum_log_u
        )
        if order == 0:
            return -ll / n
        inv_u = 1.0 / u
        sum_inv, sum_x_inv = inv_u.sum(), _dot(self.x, inv_u)
        psi_pq = special.digamma(pu + q)
        grad = np.array(
            [
                wx @ (ux * (psi_pq - special.digamma(pu) + log_ux))
                + self.sum_x_log_m
                - sum_x_log_u,
                wx @ psi_pq + n * (log_gamma - special.digamma(q)) - sum_log_u,
                n * q / gamma - p * sum_x_inv - q * sum_inv,
            ]
        )
        grad_z = grad * theta
        if order == 1:
            return -ll / n, -grad_z / n
        inv_u *= inv_u
        sum_inv2, sum_x_inv2 = inv_u.sum(), _dot(self.x, inv_u)
        tri_pq = special.polygamma(1, pu + q)
        hess = np.empty((3, 3))
        hess[0, 0] = wx @ (ux * ux * (tri_pq - special.polygamma(1, pu)))
        hess[0, 1] = wx @ (ux * tri_pq)
        hess[1, 1] = wx @ tri_pq - n * special.polygamma(1, q)
        hess[0, 2] = -sum_x_inv
        hess[1, 2] = n / gamma - sum_inv
        hess[2, 2] = -n * q / gamma**2 + p * sum_x_inv2 + q * sum_inv2
        hess = np.triu(hess) + np.triu(hess, 1).T
        hess_z = theta[:, None] * hess * theta[None, :] + np.diag(grad_z)
        return -ll / n, -grad_z / n, -hess_z / n


def fit_gamma_gamma(x: ArrayLike, m: ArrayLike) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on the customers with x >= 1 and m > 0 (the
    others are left out and later get the population mean). Raises FitError when it
    does not converge. With q <= 1 the population mean is the observed one (see
    ``GammaGammaFit.population_mean``)."""
    x_, m_ = _as_float(x, m)
    if not (np.isfinite(x_).all() and np.isfinite(m_).all()):
        raise ValueError("x and m must be finite")
    use = (x_ >= 1) & (m_ > 0)
    n_customers = int(use.sum())
    if n_customers < 3:
        raise FitError(
            f"Gamma-Gamma: {n_customers} customer(s) with a repeat purchase and a positive "
            "mean margin; at least 3 are needed to fit three parameters"
        )
    xu, mu = x_[use], m_[use]
    names = ("p", "q", "gamma")
    # mean of the start model = p * gamma / (q - 1) = the mean of m
    start = _warm_start(
        lambda rows: _GammaGammaLikelihood(xu[rows], mu[rows]),
        n_customers,
        np.log([1.0, 2.0, float(mu.mean())]),
        names,
        "Gamma-Gamma",
    )
    opt = _maximise(_GammaGammaLikelihood(xu, mu), start, names, "Gamma-Gamma")
    p, q, gamma = np.exp(opt.log_params)
    return GammaGammaFit(
        p=float(p),
        q=float(q),
        gamma=float(gamma),
        log_likelihood=float(opt.log_likelihood),
        converged=True,
        n_customers=n_customers,
        iterations=opt.iterations,
        message=opt.message,
        std_errors=dict(zip(names, map(float, opt.std_errors), strict=True)),
        observed_mean=_dot(mu, xu) / float(xu.sum()),
    )


def expected_margin(fit: GammaGammaFit, x: ArrayLike, m: ArrayLike) -> NDArray[np.float64]:
    """E[margin per transaction | x, m] = p (gamma + x m) / (p x + q - 1), a weighted mean
    of the population mean p gamma/(q-1) and the customer's own m. Customers with x == 0
    or m <= 0 get the population mean."""
    x_, m_ = _as_float(x, m)
    own = (x_ >= 1) & (m_ > 0)
    denominator = fit.p * x_ + fit.q - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = np.where(denominator > 0, fit.p * (fit.gamma + x_ * m_) / denominator, m_)
    if own.all():
        return conditional
    return np.where(own, conditional, fit.population_mean)


# -------------------------------------------------------------------------- value


def _future_purchases_if_alive(
    fit: BGNBDFit,
    x: NDArray,
    T: NDArray,
    horizon_weeks: float,
    annual_discount_rate: float,
    step_weeks: float,
) -> tuple[NDArray, NDArray]:
    """For customers alive at T: the purchases expected over the horizon, and the same
    with each step's purchases discounted at the step's end."""
    if horizon_weeks < 0 or step_weeks <= 0:
        raise ValueError("horizon_weeks must be >= 0 and step_weeks > 0")
    if annual_discount_rate <= -1:
        raise ValueError("annual_discount_rate must be > -1")
    discounted = np.zeros_like(x)
    previous = np.zeros_like(x)
    t_k = 0.0
    n_steps = math.ceil(horizon_weeks / step_weeks - 1e-12) if horizon_weeks > 0 else 0
    for k in range(1, n_steps + 1):
        t_k = min(k * step_weeks, horizon_weeks)
        current = _purchases_if_alive(fit, np.full_like(x, t_k), x, T)
        discounted += (current - previous) * (1 + annual_discount_rate) ** (-t_k / WEEKS_PER_YEAR)
        previous = current
    if t_k != horizon_weeks:
        previous = _purchases_if_alive(fit, np.full_like(x, horizon_weeks), x, T)
    return previous, discounted


def discounted_future_margin(
    bgnbd: BGNBDFit,
    gg_margin_per_tx: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    horizon_weeks: float,
    annual_discount_rate: float,
    step_weeks: float = 4,
) -> NDArray[np.float64]:
    """Expected margin over the next ``horizon_weeks``, discounted:
    sum_k (E[X(t_k)|.] - E[X(t_k-1)|.]) * margin * (1 + d)^(-t_k / 52),
    t_k = k * step_weeks (the last step ends at the horizon)."""
    return forecast(
        bgnbd, gg_margin_per_tx, x, t_x, T, horizon_weeks, annual_discount_rate, step_weeks
    ).future_margin


@dataclass(frozen=True)
class Forecast:
    """Per customer, over one horizon: P(alive) now, the repeat purchases expected and
    the margin they bring, discounted."""

    p_alive: NDArray[np.float64]
    expected_purchases: NDArray[np.float64]
    future_margin: NDArray[np.float64]


def forecast(
    bgnbd: BGNBDFit,
    gg_margin_per_tx: ArrayLike,
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    horizon_weeks: float,
    annual_discount_rate: float,
    step_weeks: float = 4,
) -> Forecast:
    """``p_alive``, ``expected_purchases`` over the horizon and
    ``discounted_future_margin`` together. E[X(t)|.] = P(alive) * U(t; x, T): the
    discounted increments of U, the costly part (a hypergeometric function per step),
    are summed once per distinct (x, T) pair (few with daily data) and scaled by
    P(alive) and the margin per customer."""
    margin, x_, t_x_, T_ = _as_float(gg_margin_per_tx, x, t_x, T)
    pair, ux, uT = _pair_codes(x_.ravel(), T_.ravel())
    at_horizon, discounted = _future_purchases_if_alive(
        bgnbd, ux, uT, horizon_weeks, annual_discount_rate, step_weeks
    )
    alive = p_alive(bgnbd, x_, t_x_, T_)
    return Forecast(
        p_alive=alive,
        expected_purchases=at_horizon[pair].reshape(x_.shape) * alive,
        future_margin=discounted[pair].reshape(x_.shape) * alive * margin,
    )


# ---------------------------------------------------------------------- simulation


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T_weeks: ArrayLike,
    seed: int,
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Draw (x, t_x, T) for ``n`` customers from the BG/NBD model, vectorised.

    Each customer: lambda ~ Gamma(r, rate alpha), p ~ Beta(a, b); purchases form a
    Poisson(lambda) process from time 0 (the first purchase); after each repeat purchase
    the customer drops out with probability p, so the last one is the J-th with
    J ~ Geometric(p). With N ~ Poisson(lambda T) arrivals in (0, T], x = min(N, J) and,
    as the arrival times given N are N sorted uniforms on (0, T], the x-th one is
    t_x = T * Beta(x, N - x + 1). ``T_weeks`` is a scalar or one age per customer."""
    rng = np.random.default_rng(seed)
    T = np.broadcast_to(np.asarray(T_weeks, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = np.clip(rng.beta(a, b, n), np.finfo(np.float64).tiny, 1.0)
    arrivals = rng.poisson(lam * T)
    last = rng.geometric(p)
    x = np.minimum(arrivals, last).astype(np.int64)
    t_x = np.zeros(n)
    has = x > 0
    t_x[has] = T[has] * rng.beta(x[has], arrivals[has] - x[has] + 1)
    return x, t_x, T


def simulate_gamma_gamma(
    x: ArrayLike, p: float, q: float, gamma: float, seed: int
) -> NDArray[np.float64]:
    """Draw the mean margin m of ``x`` repeat transactions per customer from the
    Gamma-Gamma model: nu ~ Gamma(q, rate gamma), each margin ~ Gamma(p, rate nu), so
    the mean of x of them ~ Gamma(p x, rate nu x). m = 0 where x == 0."""
    rng = np.random.default_rng(seed)
    x_ = np.asarray(x, dtype=np.float64)
    nu = rng.gamma(q, 1.0 / gamma, x_.shape)
    m = np.zeros(x_.shape)
    has = x_ > 0
    m[has] = rng.gamma(p * x_[has], 1.0 / (nu[has] * x_[has]))
    return m


def simulate_orders(
    x: ArrayLike,
    t_x: ArrayLike,
    T: ArrayLike,
    as_of,
    seed: int,
    *,
    p: float,
    q: float,
    gamma: float,
    lines_per_transaction: float = 1.0,
) -> tuple[NDArray[np.int64], NDArray, NDArray[np.float64]]:
    """Order rows (customer id, date, margin) that summarise() turns back into about
    (x, t_x, T): the first purchase at as_of - T, the last repeat one at t_x, the other
    x - 1 uniform in between (given the x-th arrival of a Poisson process, the earlier
    ones are uniform before it). Each transaction's margin is Gamma(p, rate nu) with
    nu ~ Gamma(q, rate gamma) per customer, split over 1 + Poisson(lines - 1) order
    lines. Times are floored to days, so rare same-day repeats merge. For benchmarks."""
    rng = np.random.default_rng(seed)
    x_ = np.asarray(x, dtype=np.int64)
    t_x_, T_ = _as_float(t_x, T)
    n = len(x_)
    per_customer = x_ + 1
    customer = np.repeat(np.arange(n, dtype=np.int64), per_customer)
    starts = np.cumsum(per_customer) - per_customer
    rank = np.arange(len(customer)) - starts[customer]  # 0 = first purchase
    recency = t_x_[customer]
    is_last = rank == per_customer[customer] - 1
    when = np.where(is_last, recency, rng.uniform(0.0, 1.0, len(rank)) * recency)
    when = np.where(rank == 0, 0.0, when)
    birth = np.datetime64(as_of, "D") - np.round(T_ * DAYS_PER_WEEK).astype("timedelta64[D]")
    day = birth[customer] + np.floor(when * DAYS_PER_WEEK).astype("timedelta64[D]")
    nu = rng.gamma(q, 1.0 / gamma, n)
    tx_margin = rng.gamma(p, 1.0 / nu[customer])
    lines = 1 + rng.poisson(max(lines_per_transaction - 1.0, 0.0), len(customer))
    row_tx = np.repeat(np.arange(len(customer)), lines)
    return customer[row_tx], day[row_tx], (tx_margin / lines)[row_tx]


# ----------------------------------------------------------------------- benchmark


def benchmark(n_customers: int, lines_per_transaction: float = 2.0, seed: int = 0) -> dict:
    """Simulate order rows for ``n_customers`` from known parameters, then time each
    stage of the pipeline. Returns timings (seconds), sizes and the fitted parameters."""
    truth = {"r": 0.9, "alpha": 10.0, "a": 0.6, "b": 6.0}
    gg_truth = {"p": 6.25, "q": 3.74, "gamma": 15.44}
    ages_days = np.random.default_rng(seed).integers(1, 3 * 365, n_customers)
    x, t_x, T = simulate_bgnbd(n_customers, **truth, T_weeks=ages_days / 7.0, seed=seed)
    as_of = np.datetime64("2025-12-31")
    ids, dates, margins = simulate_orders(
        x, t_x, T, as_of, seed + 1, **gg_truth, lines_per_transaction=lines_per_transaction
    )

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    rfm = summarise(ids, dates, margins, as_of)
    timings["summarise"] = time.perf_counter() - clock
    clock = time.perf_counter()
    bg = fit_bgnbd(rfm.x, rfm.t_x, rfm.T)
    timings["fit_bgnbd"] = time.perf_counter() - clock
    clock = time.perf_counter()
    gg = fit_gamma_gamma(rfm.x, rfm.m)
    timings["fit_gamma_gamma"] = time.perf_counter() - clock
    clock = time.perf_counter()
    alive = p_alive(bg, rfm.x, rfm.t_x, rfm.T)
    purchases = expected_purchases(bg, 52.0, rfm.x, rfm.t_x, rfm.T)
    margin = expected_margin(gg, rfm.x, rfm.m)
    timings["predict"] = time.perf_counter() - clock
    clock = time.perf_counter()
    value = discounted_future_margin(bg, margin, rfm.x, rfm.t_x, rfm.T, 104.0, 0.08)
    timings["discounted_future_margin_104w"] = time.perf_counter() - clock
    return {
        "rows": len(ids),
        "customers": len(rfm),
        "timings": timings,
        "bgnbd_true": truth,
        "bgnbd_fit": {k: getattr(bg, k) for k in ("r", "alpha", "a", "b")},
        "bgnbd_se": bg.std_errors,
        "bgnbd_iterations": bg.iterations,
        "gamma_gamma_true": gg_truth,
        "gamma_gamma_fit": {k: getattr(gg, k) for k in ("p", "q", "gamma")},
        "gamma_gamma_se": gg.std_errors,
        "gamma_gamma_customers": gg.n_customers,
        "checks": {
            "mean_p_alive": float(alive.mean()),
            "sum_expected_purchases_52w": float(purchases.sum()),
            "sum_discounted_future_margin_104w": float(value.sum()),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark the CLV pipeline on simulated data")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--lines-per-transaction", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    result = benchmark(args.customers, args.lines_per_transaction, args.seed)
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
