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

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

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
_MAX_NEWTON_STEPS = 20


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


def _customer_codes(ids: NDArray) -> tuple[NDArray[np.int64], NDArray]:
    """Dense codes 0..k-1 in sorted id order, and the sorted unique ids."""
    if ids.dtype.kind in "iu" and len(ids):
        lo, hi = int(ids.min()), int(ids.max())
        if hi - lo <= 4 * len(ids) + 1024:  # dense integer keys: no hashing, no sort
            offset = (ids - lo).astype(np.int64)
            present = np.zeros(hi - lo + 1, dtype=bool)
            present[offset] = True
            remap = np.cumsum(present) - 1
            return remap[offset], np.flatnonzero(present) + lo
    codes, uniques = pd.factorize(ids, sort=True)
    return codes.astype(np.int64), np.asarray(uniques)


def summarise(
    customer_ids: ArrayLike,
    dates: ArrayLike,
    margins: ArrayLike,
    as_of,
    first_dates: Mapping | pd.Series | None = None,
) -> RFM:
    """Build the BG/NBD / Gamma-Gamma summary from order rows.

    One row per order: customer id, order date (anything numpy turns into
    ``datetime64[D]``) and gross margin. Orders after ``as_of`` are ignored. Orders on
    the same day are one transaction, their margins summed. The first transaction is the
    customer's birth; ``x`` counts the transactions after it.

    ``first_dates`` optionally maps customer id -> the date of the customer's first
    purchase, for histories that start before the loaded orders. When that date is
    earlier than the customer's earliest loaded order, time 0 moves back to it and every
    loaded transaction is a repeat one; a missing, later or NaT date is ignored (the
    earliest order stays the first purchase). Only customers with at least one order on
    or before ``as_of`` appear in the result.
    """
    ids = np.asarray(customer_ids)
    days = np.asarray(dates, dtype="datetime64[D]")
    amounts = np.asarray(margins, dtype=np.float64)
    if not (ids.ndim == days.ndim == amounts.ndim == 1) or not (
        len(ids) == len(days) == len(amounts)
    ):
        raise ValueError("customer_ids, dates and margins must be 1-d arrays of equal length")
    if np.isnat(days).any():
        raise ValueError("an order has no date")
    if not np.isfinite(amounts).all():
        raise ValueError("an order margin is NaN or infinite")
    as_of_day = np.datetime64(as_of, "D")
    keep = days <= as_of_day
    if not keep.all():
        ids, days, amounts = ids[keep], days[keep], amounts[keep]

    codes, unique_ids = _customer_codes(ids)
    k = len(unique_ids)
    day = days.astype(np.int64)
    first = np.full(k, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(k, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, codes, day)
    np.maximum.at(last, codes, day)
    total = np.bincount(codes, weights=amounts, minlength=k).astype(np.float64, copy=False)
    on_first = day == first[codes]
    first_margin = np.bincount(codes[on_first], weights=amounts[on_first], minlength=k)

    # Distinct (customer, day) pairs: sort one integer key, count the changes.
    if len(day):
        d0 = int(day.min())
        span = int(day.max()) - d0 + 1
        key_type = np.int32 if k * span < np.iinfo(np.int32).max else np.int64
        key = codes.astype(key_type) * key_type(span) + (day - d0).astype(key_type)
        key.sort()
        boundary = np.empty(len(key), dtype=bool)
        boundary[0] = True
        np.not_equal(key[1:], key[:-1], out=boundary[1:])
        n_days = np.bincount(key[boundary] // key_type(span), minlength=k).astype(np.int64)
    else:
        n_days = np.zeros(0, dtype=np.int64)

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
    as_of_int = as_of_day.astype(np.int64)
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


def _compress(
    *columns: NDArray, weights: NDArray | None = None
) -> tuple[list[NDArray[np.float64]], NDArray[np.float64]]:
    """Identical rows grouped: the distinct rows and their summed weights (counts when
    no weights are given), so a million customers become the few distinct histories."""
    frame = pd.DataFrame({f"c{i}": col for i, col in enumerate(columns)})
    frame["w"] = 1.0 if weights is None else weights
    summed = frame.groupby([f"c{i}" for i in range(len(columns))], sort=False)["w"].sum()
    summed = summed[summed > 0]
    distinct = [
        summed.index.get_level_values(i).to_numpy(dtype=np.float64) for i in range(len(columns))
    ]
    return distinct, summed.to_numpy(dtype=np.float64)


@dataclass
class _Optimum:
    log_params: NDArray[np.float64]
    log_likelihood: float
    iterations: int
    std_errors: NDArray[np.float64]
    message: str


def _hessian(grad: Callable[[NDArray], NDArray], z: NDArray, h: float = 1e-5) -> NDArray:
    """Central differences of an analytic gradient, symmetrised."""
    k = len(z)
    hess = np.empty((k, k))
    for i in range(k):
        step = np.zeros(k)
        step[i] = h
        hess[:, i] = (grad(z + step) - grad(z - step)) / (2 * h)
    return 0.5 * (hess + hess.T)


def _maximise(
    objective: Callable[[NDArray], tuple[float, NDArray]],
    start: NDArray,
    n_total: float,
    names: tuple[str, ...],
    model: str,
) -> _Optimum:
    """Minimise the mean negative log-likelihood over log-parameters: L-BFGS-B, then
    Newton steps with a finite-difference Hessian until the Newton decrement is below
    tolerance. Raises FitError when that cannot be certified."""

    def safe(z: NDArray) -> tuple[float, NDArray]:
        with np.errstate(all="ignore"):
            f, g = objective(z)
        if not (np.isfinite(f) and np.isfinite(g).all()):
            return np.inf, np.zeros_like(z)
        return f, g

    f0, _ = safe(start)
    if not np.isfinite(f0):
        raise FitError(f"{model}: the log-likelihood is not finite at the starting values")
    result = optimize.minimize(
        safe,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(start),
        options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
    )
    z = np.asarray(result.x, dtype=np.float64)
    messages = [f"L-BFGS-B: {result.message}"]

    def refuse(reason: str) -> FitError:
        values = ", ".join(f"{n}={v:.6g}" for n, v in zip(names, np.exp(z), strict=True))
        return FitError(f"{model} fit did not converge: {reason} ({values}; {messages[0]})")

    def check_bounds() -> None:
        theta = np.exp(z)
        for name, value in zip(names, theta, strict=True):
            if not ABSURD_LOW < value < ABSURD_HIGH:
                raise refuse(
                    f"{name} ran off to {value:.3g}, a degenerate limit of the model; "
                    "the data do not identify it"
                )

    def gradient(w: NDArray) -> NDArray:
        return safe(w)[1]

    check_bounds()
    newton_steps = 0
    while True:
        f, g = safe(z)
        if not np.isfinite(f):
            raise refuse("the log-likelihood is not finite at the optimum")
        hess = _hessian(gradient, z)
        if not np.isfinite(hess).all():
            raise refuse("the Hessian is not finite at the optimum")
        eigen = np.linalg.eigvalsh(hess)
        if eigen.min() <= 1e-12 * max(1.0, abs(eigen.max())):
            raise refuse("the log-likelihood is flat or not concave at the optimum")
        step = -np.linalg.solve(hess, g)
        decrement = 0.5 * n_total * float(g @ -step)  # total log-likelihood still to gain
        if decrement < _NEWTON_DECREMENT_TOL:
            break
        if newton_steps >= _MAX_NEWTON_STEPS:
            raise refuse(f"Newton polishing left {decrement:.3g} of log-likelihood to gain")
        newton_steps += 1
        scale = 1.0
        if decrement > 1.0:  # far from the quadratic region: backtrack on the objective
            while safe(z + scale * step)[0] > f and scale > 1e-6:
                scale /= 2
        z = z + scale * step
        check_bounds()

    cov = np.linalg.inv(hess * n_total)
    std_log = np.sqrt(np.diag(cov))
    messages.append(f"Newton polish: {newton_steps} step(s), decrement {decrement:.2g}")
    return _Optimum(
        log_params=z,
        log_likelihood=-f * n_total,
        iterations=int(result.nit) + newton_steps,
        std_errors=np.exp(z) * std_log,  # delta method: se(theta) = theta * se(log theta)
        message="; ".join(messages),
    )


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


def _bgnbd_objective(
    x: NDArray,
    t_x: NDArray,
    T: NDArray,
    w: NDArray,
) -> Callable[[NDArray], tuple[float, NDArray]]:
    """Mean negative log-likelihood and its gradient in log-parameters, for grouped
    rows with weights ``w``. The gamma/beta-function terms depend on x alone, so they
    are evaluated once per distinct x and summed with the weight of that x; only the
    logs of alpha + T and alpha + t_x and the two-term log-sum-exp run per row."""
    n = w.sum()
    psi = special.digamma
    ux, xi = np.unique(x, return_inverse=True)
    weight_x = np.bincount(xi, weights=w, minlength=len(ux))  # customers per distinct x
    has_u = ux > 0
    ux1 = np.maximum(ux, 1.0)
    has = x > 0
    w_has = w * has

    def objective(z: NDArray) -> tuple[float, NDArray]:
        r, alpha, a, b = np.exp(z)
        log_alpha, beta_ab = np.log(alpha), special.betaln(a, b)
        # per distinct x
        a1 = special.gammaln(r + ux) - special.gammaln(r) + r * log_alpha
        c2 = special.betaln(a, b + ux) - beta_ab
        c3 = np.where(has_u, special.betaln(a + 1, b + ux1 - 1) - beta_ab, -np.inf)
        # per row
        rx = r + x
        log_at, log_atx = np.log(alpha + T), np.log(alpha + t_x)
        a2 = c2[xi] - rx * log_at
        a3 = c3[xi] - rx * log_atx
        lse = np.logaddexp(a2, a3)
        w2 = np.exp(a2 - lse)  # share of the "alive at T" term
        w3 = 1.0 - w2  # share of the "dropped out after t_x" term (0 when x == 0)
        ll = weight_x @ a1 + w @ lse
        common = psi(a + b) - psi(a + b + ux)
        d_r = weight_x @ (psi(r + ux) - psi(r) + log_alpha) - w @ (w2 * log_at + w3 * log_atx)
        d_alpha = n * r / alpha - w @ (rx * (w2 / (alpha + T) + w3 / (alpha + t_x)))
        d_a = weight_x @ common + (w @ w3) / a
        d_b = weight_x @ np.where(has_u, common - psi(b) + psi(b + ux1 - 1), 0.0) + w_has @ (
            w2 / (b + np.maximum(x, 1.0) - 1)
        )
        grad = np.array([d_r, d_alpha, d_a, d_b]) * np.array([r, alpha, a, b])
        return -float(ll) / n, -grad / n

    return objective


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
    w = np.ones_like(x_) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != x_.shape or (w < 0).any():
        raise ValueError("weights must be non-negative, one per customer row")
    n_customers = int(np.rint(w.sum()))
    if n_customers == 0:
        raise FitError("BG/NBD: no customers to fit")
    if not (w[x_ > 0].sum() > 0):
        raise FitError("BG/NBD: no customer has a repeat purchase; the model is not identified")
    if not (w[T_ > 0].sum() > 0):
        raise FitError("BG/NBD: every customer was acquired on the as-of date")
    (xc, txc, Tc), wc = _compress(x_, t_x_, T_, weights=w)

    rate = float((xc * wc).sum() / max((Tc * wc).sum(), 1e-12))
    start = np.log([1.0, 1.0 / max(rate, 1e-6), 1.0, 1.0])
    opt = _maximise(
        _bgnbd_objective(xc, txc, Tc, wc),
        start,
        float(wc.sum()),
        ("r", "alpha", "a", "b"),
        "BG/NBD",
    )
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
        std_errors=dict(zip(("r", "alpha", "a", "b"), map(float, opt.std_errors), strict=True)),
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
    = P(alive | x, t_x, T) * (expected purchases in t weeks of a customer alive at T)."""
    t_, x_, t_x_, T_ = _as_float(t, x, t_x, T)
    if (t_ < 0).any():
        raise ValueError("the horizon t must be non-negative")
    return _purchases_if_alive(fit, t_, x_, T_) * p_alive(fit, x_, t_x_, T_)


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


def _gamma_gamma_objective(
    x: NDArray, m: NDArray, w: NDArray
) -> Callable[[NDArray], tuple[float, NDArray]]:
    """Mean negative log-likelihood and gradient in log-parameters; the gamma-function
    terms once per distinct x, only log(gamma + x m) per row."""
    n = w.sum()
    psi = special.digamma
    ux, xi = np.unique(x, return_inverse=True)
    weight_x = np.bincount(xi, weights=w, minlength=len(ux))
    log_ux = np.log(ux)
    log_m = np.log(m)
    sum_log_m, sum_x_log_m = w @ log_m, (w * x) @ log_m
    wx = w * x

    def objective(z: NDArray) -> tuple[float, NDArray]:
        p, q, gamma = np.exp(z)
        pu = p * ux
        gxm = gamma + x * m
        log_gxm = np.log(gxm)
        ll = (
            weight_x
            @ (
                special.gammaln(pu + q)
                - special.gammaln(pu)
                - special.gammaln(q)
                + q * np.log(gamma)
                + pu * log_ux
            )
            + p * sum_x_log_m
            - sum_log_m
            - (p * wx + q * w) @ log_gxm
        )
        psi_pq = psi(pu + q)
        d_p = weight_x @ (ux * (psi_pq - psi(pu) + log_ux)) + sum_x_log_m - wx @ log_gxm
        d_q = weight_x @ (psi_pq - psi(q) + np.log(gamma)) - w @ log_gxm
        d_gamma = n * q / gamma - (p * wx + q * w) @ (1.0 / gxm)
        grad = np.array([d_p, d_q, d_gamma]) * np.array([p, q, gamma])
        return -float(ll) / n, -grad / n

    return objective


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
    (xc, mc), wc = _compress(x_[use], m_[use])
    mean = float((mc * wc).sum() / wc.sum())
    start = np.log([1.0, 2.0, mean])  # mean of the start model = p * gamma / (q - 1) = mean
    opt = _maximise(
        _gamma_gamma_objective(xc, mc, wc),
        start,
        float(wc.sum()),
        ("p", "q", "gamma"),
        "Gamma-Gamma",
    )
    p, q, gamma = np.exp(opt.log_params)
    fit = GammaGammaFit(
        p=float(p),
        q=float(q),
        gamma=float(gamma),
        log_likelihood=float(opt.log_likelihood),
        converged=True,
        n_customers=n_customers,
        iterations=opt.iterations,
        message=opt.message,
        std_errors=dict(zip(("p", "q", "gamma"), map(float, opt.std_errors), strict=True)),
        observed_mean=float((mc * xc * wc).sum() / (xc * wc).sum()),
    )
    return fit


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
    if horizon_weeks < 0 or step_weeks <= 0:
        raise ValueError("horizon_weeks must be >= 0 and step_weeks > 0")
    if annual_discount_rate <= -1:
        raise ValueError("annual_discount_rate must be > -1")
    margin, x_, t_x_, T_ = _as_float(gg_margin_per_tx, x, t_x, T)
    # E[X(t)|.] = P(alive) * U(t; x, T): sum the discounted increments of U once per
    # distinct (x, T) pair (few with daily data) and scale by P(alive) per customer.
    codes, pairs = pd.MultiIndex.from_arrays([x_.ravel(), T_.ravel()]).factorize()
    ux = pairs.get_level_values(0).to_numpy(dtype=np.float64)
    uT = pairs.get_level_values(1).to_numpy(dtype=np.float64)
    discounted = np.zeros_like(ux)
    previous = np.zeros_like(ux)
    n_steps = math.ceil(horizon_weeks / step_weeks - 1e-12) if horizon_weeks > 0 else 0
    for k in range(1, n_steps + 1):
        t_k = min(k * step_weeks, horizon_weeks)
        current = _purchases_if_alive(bgnbd, np.full_like(ux, t_k), ux, uT)
        discounted += (current - previous) * (1 + annual_discount_rate) ** (-t_k / WEEKS_PER_YEAR)
        previous = current
    per_customer = discounted[codes].reshape(x_.shape)
    return per_customer * p_alive(bgnbd, x_, t_x_, T_) * margin


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
