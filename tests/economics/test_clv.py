"""The CLV model (economics/clv.py) against numbers worked out independently: by hand,
by numerical integration over the latent purchase rate and dropout probability, and by
simulation from known parameters. Plain numpy/scipy: no database, no Django."""

import math

import numpy as np
import pytest
from scipy import integrate

from economics import clv
from economics.clv import BGNBDFit, FitError, GammaGammaFit

# The CDNOW estimates (Fader, Hardie & Lee 2005), weeks.
R, ALPHA, A, B = 0.24, 4.41, 0.79, 2.43
P, Q, GAMMA = 6.25, 3.74, 15.44


def bgnbd(r=R, alpha=ALPHA, a=A, b=B) -> BGNBDFit:
    """A fit with the given parameters, to evaluate the model's formulas."""
    return BGNBDFit(
        r, alpha, a, b, log_likelihood=0.0, converged=True, iterations=0, n_customers=0, message=""
    )


CDNOW = bgnbd()
CDNOW_GG = GammaGammaFit(P, Q, GAMMA, log_likelihood=0.0, converged=True, n_customers=0)


# ------------------------------------------------------------------------ summarise


def test_summarise_merges_same_day_orders_and_ignores_orders_after_as_of():
    rows = [  # (customer, date, margin), deliberately out of order
        (7, "2024-02-12", 30.0),
        (3, "2024-03-01", 12.0),
        (7, "2024-01-01", 10.0),
        (5, "2024-04-01", 99.0),  # only ordered after as_of: not a customer yet
        (7, "2024-04-02", 100.0),  # after as_of: ignored
        (7, "2024-01-15", 20.0),
        (3, "2024-03-01", 3.0),  # same day as its other order: one transaction
        (7, "2024-01-01", 5.0),  # same day: one transaction of 15
        (9, "2024-03-31", 8.0),  # first purchase on the as-of date
        (7, "2024-02-12", -4.0),  # same day: one transaction of 26
    ]
    ids, dates, margins = zip(*rows, strict=True)
    as_of = np.datetime64("2024-03-31")
    rfm = clv.summarise(np.array(ids), np.array(dates, dtype="datetime64[D]"), margins, as_of)

    assert rfm.customer_id.tolist() == [3, 7, 9]
    # Customer 7: transactions 1 Jan (15), 15 Jan (20), 12 Feb (26); 12 Feb is 42 days
    # after 1 Jan, 31 Mar is 90 days after it (2024 is a leap year: 31 + 29 + 30).
    assert rfm.x.tolist() == [0, 2, 0]
    assert rfm.t_x.tolist() == pytest.approx([0.0, 42 / 7, 0.0])
    assert rfm.T.tolist() == pytest.approx([30 / 7, 90 / 7, 0.0])
    assert rfm.m.tolist() == pytest.approx([0.0, (20 + 26) / 2, 0.0])  # repeat ones only
    assert rfm.n_transactions.tolist() == [1, 3, 1]
    assert rfm.total_margin.tolist() == pytest.approx([15.0, 61.0, 8.0])
    assert (
        rfm.first_purchase.tolist()
        == np.array(["2024-03-01", "2024-01-01", "2024-03-31"], dtype="datetime64[D]").tolist()
    )


def test_summarise_counts_every_loaded_purchase_as_repeat_when_the_first_came_earlier():
    ids = ["b", "a", "a", "a", "b"]
    dates = np.array(
        ["2024-03-01", "2024-01-01", "2024-01-15", "2024-02-12", "2024-03-05"],
        dtype="datetime64[D]",
    )
    margins = [4.0, 15.0, 20.0, 26.0, 6.0]
    first_dates = {"a": np.datetime64("2023-12-18"), "b": np.datetime64("2024-03-01")}

    rfm = clv.summarise(ids, dates, margins, "2024-03-31", first_dates=first_dates)

    assert rfm.customer_id.tolist() == ["a", "b"]
    # "a" bought first on 18 Dec 2023: 1 Jan is 14 days later, 12 Feb 56, 31 Mar 104.
    assert rfm.x.tolist() == [3, 1]
    assert rfm.t_x.tolist() == pytest.approx([56 / 7, 4 / 7])
    assert rfm.T.tolist() == pytest.approx([104 / 7, 30 / 7])
    assert rfm.m.tolist() == pytest.approx([61 / 3, 6.0])
    assert rfm.first_purchase[0] == np.datetime64("2023-12-18")


def test_summarise_round_trips_simulated_order_rows():
    x, t_x, T = clv.simulate_bgnbd(2000, 0.9, 10.0, 0.6, 6.0, np.arange(2000) % 700 / 7, seed=4)
    ids, dates, margins = clv.simulate_orders(
        x, t_x, T, "2025-12-31", seed=5, p=P, q=Q, gamma=GAMMA, lines_per_transaction=2
    )
    rfm = clv.summarise(ids + 1000, dates, margins, "2025-12-31")

    assert rfm.customer_id.tolist() == list(range(1000, 3000))
    np.testing.assert_allclose(rfm.T, T, atol=1e-12)
    # Days are whole: a purchase lands up to a day early, and two on one day merge.
    assert np.all(rfm.x <= x)
    same = rfm.x == x
    assert same.mean() > 0.9
    assert np.all((t_x - rfm.t_x)[same] >= -1e-12)
    assert np.all((t_x - rfm.t_x)[same] < 1 / 7 + 1e-12)
    np.testing.assert_allclose(np.bincount(ids, weights=margins), rfm.total_margin)


def summary_fields(rfm: clv.RFM) -> list:
    return [
        getattr(rfm, name).tolist()
        for name in ("customer_id", "x", "t_x", "T", "m", "n_transactions", "total_margin")
    ] + [rfm.first_purchase.tolist(), rfm.last_purchase.tolist()]


def test_summarise_gives_the_same_summary_whatever_the_order_of_rows_and_the_time_unit():
    """Rows grouped by customer and date skip the sort; timestamps with a time of day
    count for their day. Neither may change a single number."""
    x, t_x, T = clv.simulate_bgnbd(3000, 0.9, 10.0, 0.6, 6.0, np.arange(3000) % 700 / 7, seed=6)
    ids, dates, margins = clv.simulate_orders(
        x, t_x, T, "2025-12-31", seed=7, p=P, q=Q, gamma=GAMMA, lines_per_transaction=2
    )
    ids = ids * 3 + 5_000  # integer ids with gaps
    expected = summary_fields(clv.summarise(ids, dates, margins, "2025-12-31"))

    grouped = np.lexsort((dates, ids))
    shuffled = np.random.default_rng(8).permutation(len(ids))
    noon = dates.astype("datetime64[ns]") + np.timedelta64(12, "h")
    for order, when in [(grouped, dates), (shuffled, dates), (shuffled, noon)]:
        rfm = clv.summarise(ids[order], when[order], margins[order], "2025-12-31")
        assert summary_fields(rfm)[:3] == expected[:3]
        np.testing.assert_allclose(rfm.m, expected[4], rtol=1e-12)
        np.testing.assert_allclose(rfm.total_margin, expected[6], rtol=1e-12)
        assert summary_fields(rfm)[7:] == expected[7:]
        assert rfm.n_transactions.tolist() == expected[5]


def test_summarise_refuses_an_order_without_a_date_in_any_time_unit():
    dates = np.array(["2024-01-01T10:00", "NaT"], dtype="datetime64[ns]")
    with pytest.raises(ValueError, match="no date"):
        clv.summarise([1, 2], dates, [1.0, 2.0], "2024-03-31")


# --------------------------------------------------- BG/NBD against integration


def xlog(k: float, v: float) -> float:
    """k log v, with 0 log 0 = 0."""
    if k == 0:
        return 0.0
    return k * math.log(v) if v > 0 else -math.inf


def log_prior_integral(log_f, x: int, t_x: float, T: float, r=R, alpha=ALPHA, a=A, b=B):
    """log ∫∫ exp(log_f(λ, p)) λ^(r-1) e^(-αλ) p^(a-1) (1-p)^(b-1) dλ dp by adaptive
    quadrature, unnormalised (callers subtract the log-integral of 1).

    λ = w^(1/r) turns λ^(r-1) dλ into dw/r, removing the singularity at 0; QUADPACK's
    algebraic-endpoint rule (weight="alg") integrates the Beta kernel's endpoint
    singularities exactly. The integrand is scaled by exp(-shift), the peak of
    λ^x e^(-λ t_x), so heavy buyers neither overflow nor underflow; the λ range stops
    where the Gamma posterior (shape ≤ x + r) has no mass left, and the inner rule is
    told where the posterior peaks."""
    shift = xlog(x, x / t_x) - x if x > 0 else 0.0
    lam_max = (x + r + 60 + 12 * math.sqrt(x + r + 1)) / alpha
    peaks = sorted({((x + r) / (alpha + s)) ** r for s in (t_x, T)})

    def over_lambda(p: float) -> float:
        def integrand(w: float) -> float:
            lam = w ** (1 / r)
            return math.exp(log_f(lam, p) - shift - alpha * lam) / r

        return integrate.quad(
            integrand, 0, lam_max**r, points=peaks, epsabs=0, epsrel=1e-11, limit=400
        )[0]

    value = integrate.quad(
        over_lambda, 0, 1, weight="alg", wvar=(a - 1, b - 1), epsabs=0, epsrel=1e-10, limit=200
    )[0]
    return shift + xlog(1, value)


def log_norm(**params) -> float:
    return log_prior_integral(lambda lam, p: 0.0, 0, 0.0, 0.0, **params)


def individual(x: int, t_x: float, T: float):
    """The individual-level log-likelihood's two terms (FHL 2005): alive at T
    after x purchases, or dropped out right after the x-th, at t_x."""

    def alive(lam, p):
        return xlog(x, 1 - p) + xlog(x, lam) - lam * T

    def dropped(lam, p):
        if x == 0:
            return -math.inf
        return xlog(1, p) + xlog(x - 1, 1 - p) + xlog(x, lam) - lam * t_x

    return alive, dropped


def purchases_if_alive(lam: float, p: float, t: float) -> float:
    """Expected purchases in t weeks of a customer alive now: sum over j of
    (1-p)^(j-1) P(N(t) >= j) = (1 - e^(-λpt)) / p, λt when p = 0."""
    return -math.expm1(-lam * p * t) / p if p > 0 else lam * t


CUSTOMERS = [  # (x, t_x, T): none, a few, many repeat purchases, an early lapser
    (0, 0.0, 38.86),
    (2, 30.43, 38.86),
    (7, 35.0, 38.0),
    (1, 1.0, 30.0),
    (25, 37.5, 39.0),
    (500, 38.9, 39.0),  # 2F1(r+x, b+x; a+b+x-1; z) itself would be astronomically large
]


@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
def test_bgnbd_log_likelihood_is_the_individual_likelihood_integrated_over_the_priors(
    x,
    t_x,
    T,
):
    alive, dropped = individual(x, t_x, T)
    log_likelihood = (
        np.logaddexp(log_prior_integral(alive, x, t_x, T), log_prior_integral(dropped, x, t_x, T))
        - log_norm()
    )

    assert clv.bgnbd_log_likelihood(R, ALPHA, A, B, x, t_x, T) == pytest.approx(
        log_likelihood, rel=1e-9
    )


def posterior_means(x, t_x, T, t, **params):
    """(E[X(t) | x, t_x, T], P(alive | x, t_x, T)) as posterior means over (λ, p):
    posterior ∝ individual likelihood × prior; only the "alive" term buys again."""
    alive, dropped = individual(x, t_x, T)
    log_alive = log_prior_integral(alive, x, t_x, T, **params)
    log_evidence = np.logaddexp(log_alive, log_prior_integral(dropped, x, t_x, T, **params))
    log_future = log_prior_integral(
        lambda lam, p: alive(lam, p) + xlog(1, purchases_if_alive(lam, p, t)),
        x,
        t_x,
        T,
        **params,
    )
    return math.exp(log_future - log_evidence), math.exp(log_alive - log_evidence)


@pytest.mark.parametrize(("x", "t_x", "T"), CUSTOMERS)
@pytest.mark.parametrize("t", [4.0, 39.0, 156.0])
def test_conditional_expectation_and_p_alive_are_posterior_means(x, t_x, T, t):
    expected, p_alive = posterior_means(x, t_x, T, t)

    assert clv.expected_purchases(CDNOW, t, x, t_x, T) == pytest.approx(expected, rel=1e-8)
    assert clv.p_alive(CDNOW, x, t_x, T) == pytest.approx(p_alive, rel=1e-8)


@pytest.mark.parametrize("a", [1.0, 1.0 + 5e-8, 1.0 - 3e-6, 2.5])
def test_conditional_expectation_holds_at_and_away_from_the_a_equals_one_singularity(a):
    expected, _ = posterior_means(3, 20.0, 39.0, 52.0, a=a)
    assert clv.expected_purchases(bgnbd(a=a), 52.0, 3, 20.0, 39.0) == pytest.approx(
        expected, rel=1e-8
    )


@pytest.mark.parametrize("t", [1.0, 39.0, 78.0])
def test_expected_purchases_of_a_new_customer_is_the_prior_mean(t):
    log_mean = log_prior_integral(lambda lam, p: xlog(1, purchases_if_alive(lam, p, t)), 0, 0, 0)
    assert clv.expected_purchases_new(CDNOW, t) == pytest.approx(
        math.exp(log_mean - log_norm()), rel=1e-8
    )


def test_conditional_expectation_reproduces_the_papers_worked_example():
    """Fader, Hardie & Lee (2005): with r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, a
    customer with x = 2, t_x = 30.43, T = 38.86 is expected to make 1.226 purchases in
    the next 39 weeks (published to three decimals)."""
    fit = bgnbd(0.243, 4.414, 0.793, 2.426)
    assert clv.expected_purchases(fit, 39, 2, 30.43, 38.86) == pytest.approx(1.226, abs=5e-4)


def test_predictions_stay_finite_for_heavy_buyers_and_long_horizons():
    x = np.array([0, 1, 50, 500, 5000])
    t_x = np.array([0.0, 10.0, 38.0, 38.9, 38.99])
    expected = clv.expected_purchases(CDNOW, 520.0, x, t_x, 39.0)
    alive = clv.p_alive(CDNOW, x, t_x, 39.0)

    assert np.isfinite(expected).all() and np.isfinite(alive).all()
    assert alive[0] == 1.0
    # Dropping out only takes purchases away: never more than the posterior mean rate
    # (r + x) / (alpha + T) times the horizon.
    assert np.all((expected > 0) & (expected < (R + x) / (ALPHA + 39.0) * 520))
    assert np.all(np.diff(clv.expected_purchases(CDNOW, [1, 10, 100, 1000], 2, 30, 39)) > 0)


def test_the_fitted_bgnbd_objective_is_the_mean_log_likelihood_with_its_derivatives():
    """The optimiser's objective (sums per distinct x and T plus a per-customer part)
    against -mean(bgnbd_log_likelihood), and its analytic gradient and Hessian in
    log-parameters against central differences of that independent formula."""
    x, t_x, T = simulated_cdnow(seed=21)
    x, t_x, T = x[:2000].astype(float), t_x[:2000], T[:2000]
    weights = np.arange(2000) % 3 + 1.0
    z = np.log([0.3, 5.0, 0.7, 2.9])

    def f(zz):
        return -np.average(clv.bgnbd_log_likelihood(*np.exp(zz), x, t_x, T), weights=weights)

    value, grad, hess = clv._BGNBDLikelihood(x, t_x, T, weights)(z, 2)

    assert value == pytest.approx(f(z), rel=1e-12)
    np.testing.assert_allclose(grad, numerical_gradient_z(f, z), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(hess, numerical_hessian_z(f, z), rtol=1e-4, atol=1e-6)


def test_the_fitted_gamma_gamma_objective_is_the_mean_log_likelihood_with_its_derivatives():
    x, _, _ = simulated_cdnow(seed=22)
    m = clv.simulate_gamma_gamma(x, P, Q, GAMMA, seed=23)
    use = x >= 1
    x, m = x[use].astype(float), m[use]
    z = np.log([5.0, 3.0, 12.0])

    def f(zz):
        return -np.mean(clv.gamma_gamma_log_likelihood(*np.exp(zz), x, m))

    value, grad, hess = clv._GammaGammaLikelihood(x, m)(z, 2)

    assert value == pytest.approx(f(z), rel=1e-12)
    np.testing.assert_allclose(grad, numerical_gradient_z(f, z), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(hess, numerical_hessian_z(f, z), rtol=1e-4, atol=1e-6)


def numerical_gradient_z(f, z: np.ndarray, h: float = 1e-5) -> np.ndarray:
    return np.array([(f(z + h * e) - f(z - h * e)) / (2 * h) for e in np.eye(len(z))])


def numerical_hessian_z(f, z: np.ndarray, h: float = 1e-4) -> np.ndarray:
    return np.array(
        [
            (numerical_gradient_z(f, z + h * e) - numerical_gradient_z(f, z - h * e)) / (2 * h)
            for e in np.eye(len(z))
        ]
    )


def test_predictions_per_distinct_history_equal_the_predictions_customer_by_customer():
    """forecast() and expected_purchases() evaluate the hypergeometric part once per
    distinct (x, T); customer by customer it must give the same numbers."""
    x, t_x, T = clv.simulate_bgnbd(3000, 0.9, 10.0, 0.6, 6.0, np.arange(3000) % 300 / 7, seed=9)
    t_x = np.floor(t_x * 7) / 7  # whole days: many customers share (x, T)
    margin = np.random.default_rng(10).uniform(5, 50, 3000)
    fit = bgnbd(0.9, 10.0, 0.6, 6.0)
    horizon, rate, step = 50.0, 0.08, 4.0

    ahead = clv.forecast(fit, margin, x, t_x, T, horizon, rate, step)

    alive = clv.p_alive(fit, x, t_x, T)
    ends = [*np.arange(step, horizon, step), horizon]
    cumulative = [clv._purchases_if_alive(fit, np.full(3000, t), x * 1.0, T) for t in ends]
    increments = np.diff([np.zeros(3000), *cumulative], axis=0)
    discounted = sum(d * (1 + rate) ** (-t / 52) for d, t in zip(increments, ends, strict=True))
    assert len(np.unique(np.stack([x, T]), axis=1).T) < 1500  # shared by two customers on average
    np.testing.assert_allclose(ahead.p_alive, alive, rtol=1e-15)
    np.testing.assert_allclose(ahead.expected_purchases, cumulative[-1] * alive, rtol=1e-13)
    np.testing.assert_allclose(ahead.future_margin, discounted * alive * margin, rtol=1e-13)
    np.testing.assert_allclose(
        clv.expected_purchases(fit, horizon, x, t_x, T), cumulative[-1] * alive, rtol=1e-13
    )
    np.testing.assert_allclose(
        clv.discounted_future_margin(fit, margin, x, t_x, T, horizon, rate, step),
        ahead.future_margin,
        rtol=1e-15,
    )


# ------------------------------------------------------------ parameter recovery


def numerical_hessian(f, theta: np.ndarray, rel_step: float = 1e-3) -> np.ndarray:
    """Central second differences of f at theta (natural parameters)."""
    k = len(theta)
    h = rel_step * theta
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(k):

            def at(di, dj, i=i, j=j):
                shifted = theta.copy()
                shifted[i] += di * h[i]
                shifted[j] += dj * h[j]
                return f(shifted)

            hess[i, j] = (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1)) / (4 * h[i] * h[j])
    return hess


def numerical_gradient(f, theta: np.ndarray, rel_step: float = 1e-5) -> np.ndarray:
    """Central first differences of f at theta."""
    shifts = np.diag(rel_step * theta)
    return np.array([(f(theta + d) - f(theta - d)) / (2 * d[i]) for i, d in enumerate(shifts)])


def log_likelihood_left_to_gain(f, theta: np.ndarray, hessian: np.ndarray) -> float:
    """The Newton decrement of f at theta: how much a Newton step would still raise
    the total log-likelihood. ~0 at a maximum; 0.5 z^2 if a parameter is z SE off."""
    grad = numerical_gradient(f, theta)
    return 0.5 * float(grad @ np.linalg.solve(-hessian, grad))


# Tolerance: 4 standard errors, from the observed information (the numerical Hessian
# of the total log-likelihood at the estimate, computed here independently of the
# module's optimiser). By asymptotic normality each estimate is within 4 SE with
# probability 1 - 6e-5, so the 4 (3) parameters of a fit all pass with probability
# > 0.9997 whatever the seed. Repeating the simulation over 200 seeds (5000 customers,
# T uniform on 27-39 weeks) gave z = (estimate - truth)/SE with standard deviation
# 0.93-1.09 per parameter and |z| at most 3.4 for BG/NBD, 3.8 for Gamma-Gamma: the
# SEs are honest at this size. A real bug (a wrong term in the likelihood) moves the
# estimates by many SEs.
TOLERANCE_SE = 4.0
N_SIM = 5000


def simulated_cdnow(seed: int):
    ages = np.random.default_rng(seed + 1000).uniform(27, 39, N_SIM)  # a 12-week cohort
    return clv.simulate_bgnbd(N_SIM, R, ALPHA, A, B, ages, seed=seed)


def test_bgnbd_fit_recovers_the_parameters_it_was_simulated_from():
    x, t_x, T = simulated_cdnow(seed=11)

    fit = clv.fit_bgnbd(x, t_x, T)

    estimate = np.array([fit.r, fit.alpha, fit.a, fit.b])

    def total(th):
        return clv.bgnbd_log_likelihood(*th, x, t_x, T).sum()

    hessian = numerical_hessian(total, estimate)
    se = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    # A maximum of the likelihood as computed here, not merely where the module's
    # analytic gradient vanishes.
    assert log_likelihood_left_to_gain(total, estimate, hessian) < 1e-4
    assert np.all(np.abs(estimate - [R, ALPHA, A, B]) < TOLERANCE_SE * se), (estimate, se)
    assert fit.converged and fit.n_customers == N_SIM
    assert fit.log_likelihood == pytest.approx(clv.bgnbd_log_likelihood(*estimate, x, t_x, T).sum())
    # The module's own standard errors (Hessian in log-parameters, delta method) agree.
    np.testing.assert_allclose([fit.std_errors[k] for k in ["r", "alpha", "a", "b"]], se, rtol=0.02)


def test_bgnbd_fit_on_grouped_customers_equals_the_fit_on_every_customer():
    x, t_x, T = simulated_cdnow(seed=12)
    x, t_x, T = x[:1500], np.round(t_x[:1500]), np.round(T[:1500])  # whole weeks: repeats
    t_x = np.where(x > 0, np.minimum(t_x, T), 0.0)
    rows = np.stack([x, t_x, T], axis=1)
    distinct, counts = np.unique(rows, axis=0, return_counts=True)

    every = clv.fit_bgnbd(x, t_x, T)
    grouped = clv.fit_bgnbd(*distinct.T, weights=counts)

    assert grouped.n_customers == every.n_customers == 1500
    np.testing.assert_allclose(
        [grouped.r, grouped.alpha, grouped.a, grouped.b],
        [every.r, every.alpha, every.a, every.b],
        rtol=1e-6,
    )
    assert grouped.log_likelihood == pytest.approx(every.log_likelihood, rel=1e-10)


def test_gamma_gamma_fit_recovers_the_parameters_it_was_simulated_from():
    x, _, _ = simulated_cdnow(seed=13)
    m = clv.simulate_gamma_gamma(x, P, Q, GAMMA, seed=14)
    m[:5] = np.where(x[:5] > 0, -1.0, 0.0)  # loss-making customers are left out of the fit

    fit = clv.fit_gamma_gamma(x, m)

    used = (x >= 1) & (m > 0)
    estimate = np.array([fit.p, fit.q, fit.gamma])

    def total(th):
        return clv.gamma_gamma_log_likelihood(*th, x[used], m[used]).sum()

    hessian = numerical_hessian(total, estimate)
    se = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    assert log_likelihood_left_to_gain(total, estimate, hessian) < 1e-4
    assert np.all(np.abs(estimate - [P, Q, GAMMA]) < TOLERANCE_SE * se), (estimate, se)
    assert fit.converged and fit.n_customers == used.sum()
    np.testing.assert_allclose([fit.std_errors[k] for k in ("p", "q", "gamma")], se, rtol=0.02)


def test_a_large_fit_started_from_a_sample_reaches_the_same_maximum():
    """Over 4 x 32768 customers the fit starts from the maximum on every k-th one; the
    maximum is the same as Newton's method reaches from the default start."""
    n = 140_000
    ages = np.random.default_rng(31).integers(1, 3 * 365, n) / 7
    x, t_x, T = clv.simulate_bgnbd(n, 0.9, 10.0, 0.6, 6.0, ages, seed=32)
    m = clv.simulate_gamma_gamma(x, P, Q, GAMMA, seed=33)

    fit = clv.fit_bgnbd(x, t_x, T)
    cold = clv._maximise(
        clv._BGNBDLikelihood(*clv._as_float(x, t_x, T)),
        np.log([1.0, T.sum() / x.sum(), 1.0, 1.0]),
        ("r", "alpha", "a", "b"),
        "BG/NBD",
    )
    gg = clv.fit_gamma_gamma(x, m)
    use = (x >= 1) & (m > 0)
    gg_cold = clv._maximise(
        clv._GammaGammaLikelihood(x[use] * 1.0, m[use]),
        np.log([1.0, 2.0, m[use].mean()]),
        ("p", "q", "gamma"),
        "Gamma-Gamma",
    )

    np.testing.assert_allclose([fit.r, fit.alpha, fit.a, fit.b], np.exp(cold.log_params), rtol=1e-6)
    assert fit.log_likelihood == pytest.approx(cold.log_likelihood, rel=1e-12)
    np.testing.assert_allclose([gg.p, gg.q, gg.gamma], np.exp(gg_cold.log_params), rtol=1e-6)


# ------------------------------------------------------------------ Gamma-Gamma


def test_expected_margin_by_hand():
    """p (gamma + x m) / (p x + q - 1), and the population mean p gamma / (q - 1)."""
    margin = clv.expected_margin(CDNOW_GG, [2, 0, 3, 1], [40.0, 0.0, -5.0, 10.0])

    assert margin[0] == pytest.approx((15.44 + 2 * 40.0) * 6.25 / (6.25 * 2 + 3.74 - 1))
    assert margin[0] == pytest.approx(39.140420, rel=1e-7)  # 596.5 / 15.24
    population = 6.25 * 15.44 / (3.74 - 1)  # 96.5 / 2.74 = 35.218978
    assert margin[1] == margin[2] == pytest.approx(population)  # no repeat / a loss
    assert margin[3] == pytest.approx((15.44 + 10.0) * 6.25 / (6.25 + 2.74))


@pytest.mark.parametrize(("x", "m"), [(1, 5.0), (2, 40.0), (12, 180.0)])
def test_expected_margin_is_the_posterior_mean_of_the_transaction_value(x, m):
    """nu | m ∝ nu^(q-1) e^(-gamma nu) × (density of the mean of x Gamma(p, nu) draws),
    and the mean transaction value given nu is p / nu."""

    def log_kernel(nu):
        log_prior = (Q - 1) * math.log(nu) - GAMMA * nu
        return log_prior + P * x * math.log(nu * x) - nu * x * m  # factors without nu dropped

    mode = (Q + P * x - 1) / (GAMMA + x * m)  # where the kernel peaks (set to 1 there)

    def kernel(nu):
        return math.exp(log_kernel(nu) - log_kernel(mode))

    def integral(f):
        return integrate.quad(f, 0, 50 * mode, points=[mode], epsabs=0, epsrel=1e-12)[0]

    mean = integral(lambda nu: kernel(nu) * P / nu) / integral(kernel)

    assert clv.expected_margin(CDNOW_GG, x, m) == pytest.approx(mean, rel=1e-9)


@pytest.mark.parametrize(("x", "m"), [(1, 5.0), (4, 33.0)])
def test_gamma_gamma_log_likelihood_is_the_mean_margin_density_integrated_over_nu(x, m):
    def joint(nu):
        log_prior = Q * math.log(GAMMA) + (Q - 1) * math.log(nu) - GAMMA * nu - math.lgamma(Q)
        shape, rate = P * x, nu * x  # the mean of x Gamma(p, rate nu) draws
        log_mean = shape * math.log(rate) + (shape - 1) * math.log(m) - rate * m
        return math.exp(log_prior + log_mean - math.lgamma(shape))

    density = integrate.quad(joint, 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert clv.gamma_gamma_log_likelihood(P, Q, GAMMA, x, m) == pytest.approx(
        math.log(density), rel=1e-9
    )


# --------------------------------------------------------------- fits refused


def test_bgnbd_fit_refuses_a_base_without_repeat_purchases():
    with pytest.raises(FitError, match="no customer has a repeat purchase"):
        clv.fit_bgnbd(np.zeros(100), np.zeros(100), np.full(100, 30.0))


def test_bgnbd_fit_refuses_data_that_show_no_dropout():
    """Every customer bought on the as-of date: nothing tells how many dropped out, the
    likelihood climbs towards p = 0 and the fit must not return that limit."""
    x = np.arange(1, 41) % 7 + 1
    T = np.linspace(10, 40, 40)
    with pytest.raises(FitError, match="did not converge"):
        clv.fit_bgnbd(x, T, T)


def test_a_heavy_tailed_margin_falls_back_on_the_observed_mean():
    x, _, _ = simulated_cdnow(seed=15)
    m = clv.simulate_gamma_gamma(x, 2.0, 0.6, 10.0, seed=16)  # q < 1: heavy tail
    fit = clv.fit_gamma_gamma(x, m)
    assert fit.heavy_tailed
    use = (x >= 1) & (m > 0)
    observed = (m[use] * x[use]).sum() / x[use].sum()
    assert fit.population_mean == pytest.approx(observed)
    # Customers with their own purchases still get the conditional expectation.
    own = clv.expected_margin(fit, [3], [10.0])[0]
    assert own == pytest.approx(fit.p * (fit.gamma + 30.0) / (3 * fit.p + fit.q - 1))
    assert clv.expected_margin(fit, [0], [0.0])[0] == pytest.approx(observed)


def test_expected_margin_refuses_q_at_most_one_without_an_observed_mean():
    fit = GammaGammaFit(6.25, 0.9, 15.44, 0.0, True, 10)
    with pytest.raises(FitError, match="no finite"):
        clv.expected_margin(fit, [0], [0.0])


def test_gamma_gamma_fit_needs_customers_with_positive_repeat_margin():
    with pytest.raises(FitError, match="at least 3"):
        clv.fit_gamma_gamma([0, 1, 2, 3], [0.0, 10.0, -4.0, 0.0])


# -------------------------------------------------------------- discounted value


X, TX, TT = np.array([0, 2, 7, 1]), np.array([0.0, 30.43, 35.0, 1.0]), np.array([38.86] * 4)
MARGIN = np.array([35.2, 39.1, 20.0, 50.0])


@pytest.mark.parametrize(("horizon", "step"), [(52.0, 4.0), (50.0, 4.0), (13.0, 13.0)])
def test_without_discounting_future_margin_is_expected_purchases_times_margin(horizon, step):
    value = clv.discounted_future_margin(CDNOW, MARGIN, X, TX, TT, horizon, 0.0, step)
    expected = clv.expected_purchases(CDNOW, horizon, X, TX, TT) * MARGIN
    np.testing.assert_allclose(value, expected, rtol=1e-12)


def test_discounting_lowers_future_margin_within_its_bounds():
    undiscounted = clv.expected_purchases(CDNOW, 104.0, X, TX, TT) * MARGIN
    value = clv.discounted_future_margin(CDNOW, MARGIN, X, TX, TT, 104.0, 0.10, 4)

    # Every increment is discounted by a factor between (1.1)^(-4/52) and (1.1)^(-2).
    assert np.all(value < undiscounted * 1.1 ** (-4 / 52))
    assert np.all(value > undiscounted * 1.1**-2)


def test_one_step_discounts_the_whole_horizon_at_its_end():
    value = clv.discounted_future_margin(CDNOW, MARGIN, X, TX, TT, 26.0, 0.08, 26.0)
    expected = clv.expected_purchases(CDNOW, 26.0, X, TX, TT) * MARGIN * 1.08 ** (-26 / 52)
    np.testing.assert_allclose(value, expected, rtol=1e-12)
