"""The economics of every customer at once, as of a date (plain pandas/numpy/scipy).

Given what the database held on the as-of date (``RunInputs``) and the cost model's
values (``EconomicsParams``), ``compute`` returns one row per customer — revenue,
margin, cost to serve by component, acquisition cost, profit, annual value, the CLV
model's predictions, CLV, role fit, commitment compliance, class and flags — and the
company KPIs. The formulas are written out in docs/economics.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from . import clv
from .costs import COMPONENTS, CostParams, cost_to_serve_periods
from .metrics import compute_all, get_metric
from .metrics.catalogue import CustomerRows, metric_key
from .metrics.memory import release_freed_memory
from .metrics.scoring import score_plans

EPOCH = pd.Timestamp("1900-01-01")
WEEKS_PER_YEAR = 52.0
FORGIVENESS_DAYS = 90
WHALE_POINTS = 201
FLAG_KINDS = ["unprofitable", "costly_to_serve", "inherently_unhappy", "at_risk", "failed_by_us"]


@dataclass(frozen=True)
class EconomicsParams:
    cost: CostParams
    annual_discount_rate: float
    forecast_horizon_months: int
    role_fit_threshold: float
    compliance_threshold: float
    costly_to_serve_ratio: float
    unhappy_complaints_multiple: float
    unhappy_min_complaints_per_year: float
    unhappy_forgiveness_below: float
    at_risk_p_alive_below: float

    @property
    def horizon_weeks(self) -> float:
        return self.forecast_horizon_months * WEEKS_PER_YEAR / 12.0


@dataclass
class EngineResult:
    scores: pd.DataFrame
    model: dict
    kpis: dict
    holdout: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


class Stopwatch:
    def __init__(self, report: Callable[[str, int], None] | None):
        self.timings: dict[str, float] = {}
        self.report = report or (lambda stage, pct: None)
        self._started = time.perf_counter()

    def lap(self, stage: str, progress: int) -> None:
        release_freed_memory()  # what the stage freed, before the next one allocates
        now = time.perf_counter()
        self.timings[stage] = round(now - self._started, 4)
        self._started = now
        self.report(stage, progress)


def _discount_weights(horizon_weeks: float, rate: float, step: float = 4.0) -> tuple:
    """Step ends t_k (weeks) over the horizon and their discount factors."""
    ends = np.arange(step, horizon_weeks + step / 2, step)
    ends[-1] = horizon_weeks
    factors = (1.0 + rate) ** (-ends / WEEKS_PER_YEAR)
    return ends, factors


@dataclass
class CLVStage:
    rfm: clv.RFM
    bgnbd: clv.BGNBDFit
    gamma_gamma: clv.GammaGammaFit
    predictions: pd.DataFrame  # one row per customer who bought, indexed by customer id
    annuity: float  # discounted years of serving over the horizon, per unit of P(alive)


def clv_stage(
    orders: pd.DataFrame,
    as_of: pd.Timestamp,
    params: EconomicsParams,
    *,
    fits: tuple | None = None,
    watch: Stopwatch | None = None,
) -> CLVStage:
    """The CLV model from order rows (customer_id, date, revenue, cost): per-customer
    summaries, the BG/NBD and Gamma-Gamma fits (or ``fits``), and each buyer's
    P(alive), expected purchases and discounted future margin over the horizon."""
    dates = orders["date"]
    rfm = clv.summarise(
        orders["customer_id"].to_numpy(),
        # A numpy datetime column as it is: summarise floors it to days faster than astype.
        dates.to_numpy() if isinstance(dates.dtype, np.dtype) else dates.to_numpy("datetime64[D]"),
        np.subtract(
            orders["revenue"].to_numpy(dtype="float64"), orders["cost"].to_numpy(dtype="float64")
        ),
        as_of=np.datetime64(as_of.date(), "D"),
    )
    if fits is None:
        bg = clv.fit_bgnbd(rfm.frequency, rfm.recency, rfm.age)
        gg = clv.fit_gamma_gamma(rfm.frequency, rfm.monetary)
    else:
        bg, gg = fits
    if watch is not None:
        watch.lap("model fit", 55)

    horizon = params.horizon_weeks
    ends, factors = _discount_weights(horizon, params.annual_discount_rate)
    margin_per_purchase = clv.expected_margin(gg, rfm.frequency, rfm.monetary)
    ahead = clv.forecast(
        bg, margin_per_purchase, rfm.frequency, rfm.recency, rfm.age,
        horizon_weeks=horizon, annual_discount_rate=params.annual_discount_rate,
    )  # fmt: skip
    # Serving goes on while the customer is alive: this year's cost to serve, for the
    # share of the horizon each step covers, discounted, times P(alive).
    step_years = np.diff(np.concatenate([[0.0], ends])) / WEEKS_PER_YEAR
    predictions = pd.DataFrame(
        {
            "frequency": rfm.frequency,
            "recency_weeks": rfm.recency,
            "age_weeks": rfm.age,
            "p_alive": ahead.p_alive,
            "expected_purchases": ahead.expected_purchases,
            "expected_margin_per_purchase": margin_per_purchase,
            "future_margin": ahead.future_margin,
        },
        index=pd.Index(rfm.customer_id),
    )
    return CLVStage(rfm, bg, gg, predictions, float((step_years * factors).sum()))


def compute(
    inputs,
    params: EconomicsParams,
    *,
    progress: Callable[[str, int], None] | None = None,
    holdout: pd.DataFrame | None = None,
    holdout_end: pd.Timestamp | None = None,
    fits: tuple | None = None,
    segment_complaints: pd.Series | None = None,
    with_kpis: bool = True,
) -> EngineResult:
    """``fits``: a (BG/NBD, Gamma-Gamma) pair to use instead of fitting (worked examples,
    and a chunk of a run split across workers). ``segment_complaints``: the mean
    complaints a year of each segment over the whole base, when ``inputs`` hold only
    some customers (a chunk); ``with_kpis=False`` leaves the company KPIs to whoever
    sees the whole base."""
    watch = Stopwatch(progress)
    data = inputs.data
    index = data.index
    as_of = data.as_of_ts
    end = data.end_of_day
    year_start = data.window_start()
    customers = data.customers

    # --- money to date and over the last twelve months ---------------------------------
    o = data.orders
    orders = CustomerRows(o["customer_id"], index)
    margin = (o["revenue"] - o["cost"]).to_numpy()
    revenue = orders.sum(o["revenue"])
    gross_margin = orders.sum(margin)
    annual_value = orders.sum(margin, (o["date"] >= year_start).to_numpy())
    del margin, orders
    costs = cost_to_serve_periods(
        index=index,
        activities=data.activities,
        rates=inputs.rates,
        tickets=data.tickets,
        invoices=data.invoices,
        charters=inputs.charters,
        params=params.cost,
        periods={"to_date": (EPOCH, end), "last_year": (year_start, end)},
        as_of=as_of,
    )
    to_date, last_year = costs["to_date"], costs["last_year"]
    acquisition = customers["acquisition_cost"].astype("float64") + customers["sales_bonus"].astype(
        "float64"
    )
    profit_to_date = gross_margin - to_date["total"] - acquisition
    annual_cts = last_year["total"]
    watch.lap("cost to serve", 35)

    # --- the CLV model ---------------------------------------------------------------
    stage = clv_stage(o, as_of, params, fits=fits, watch=watch)
    rfm, bg, gg, annuity = stage.rfm, stage.bgnbd, stage.gamma_gamma, stage.annuity
    pred = stage.predictions.reindex(index)
    del stage
    pred["frequency"] = pred["frequency"].fillna(0).astype("int64")
    pred[["recency_weeks", "age_weeks", "future_margin"]] = pred[
        ["recency_weeks", "age_weeks", "future_margin"]
    ].fillna(0.0)
    future_cts = annual_cts * pred["p_alive"].fillna(0.0) * annuity
    predicted_future_value = pred["future_margin"] - future_cts
    clv_value = profit_to_date + predicted_future_value
    watch.lap("predictions", 70)

    # --- both sides of the charter -----------------------------------------------------
    # Besides the plans, the flags read complaints a year and forgiveness.
    wanted = [("complaints_per_year", {}), ("forgiveness_share", {"days": FORGIVENESS_DAYS})]
    wanted_keys = [metric_key(key, get_metric(key).resolve_params(given)) for key, given in wanted]
    (role_fit, compliance), values = score_plans(
        [inputs.expectation_plan, inputs.commitment_plan],
        index,
        lambda metric, metric_params: _measured(data, metric, metric_params),
        keep=wanted_keys,
    )
    missing = [w for w, k in zip(wanted, wanted_keys, strict=True) if k not in values]
    values |= compute_all(data, missing)
    role_fit = role_fit.where(inputs.has_role)
    compliance = compliance.where(inputs.has_role)
    complaints, forgiveness = (values[k] for k in wanted_keys)
    del values
    last_year_counts = complaint_and_purchase_columns(data)
    data.forget()  # what the metrics shared is not needed any more
    watch.lap("role fit and compliance", 80)

    scores = pd.DataFrame(
        {
            "revenue": revenue,
            "gross_margin": gross_margin,
            **{f"cost_{c}": to_date[c] for c in COMPONENTS},
            "cost_to_serve": to_date["total"],
            "acquisition_cost": acquisition,
            "profit_to_date": profit_to_date,
            "annual_value": annual_value,
            "annual_cost_to_serve": annual_cts,
            "annual_profit": annual_value - annual_cts,
            **{c: pred[c] for c in pred.columns},
            "future_cost_to_serve": future_cts,
            "predicted_future_value": predicted_future_value,
            "clv": clv_value,
            "role_fit": role_fit,
            "compliance": compliance,
            "complaints_per_year": complaints.fillna(0.0),
            "forgiveness": forgiveness,
            **{c: last_year_counts[c] for c in last_year_counts.columns},
        },
        index=index,
    )
    del last_year_counts
    scores["klass"] = classify(scores, inputs.has_role, params)
    raised = raise_flags(scores, customers, params, segment_complaints=segment_complaints)
    scores["flag_mask"] = flag_mask(raised)
    scores["flags"] = flag_lists(scores["flag_mask"])
    watch.lap("classes and flags", 88)

    kpis = company_kpis(scores, data, last_year["total"], params) if with_kpis else {}
    model = model_summary(bg, gg, params)
    result = EngineResult(scores=scores, model=model, kpis=kpis)
    if holdout is not None and holdout_end is not None:
        result.holdout, per_customer = holdout_check(bg, rfm, holdout, as_of, holdout_end)
        scores["holdout_predicted"] = per_customer["predicted"].reindex(index)
        scores["holdout_actual"] = per_customer["actual"].reindex(index)
    watch.lap("company KPIs", 92)
    result.timings = watch.timings
    return result


def _measured(data, metric: str, metric_params: dict) -> pd.Series:
    """One metric for every customer; what computing it freed goes back to the system
    before the next one (a million customers' metrics follow one another)."""
    values = get_metric(metric)(data, metric_params)
    release_freed_memory()
    return values


def model_summary(bg, gg, params: EconomicsParams) -> dict:
    """What a run keeps of its fitted model."""
    return {
        "bgnbd": _fit_dict(bg),
        "gamma_gamma": _fit_dict(gg),
        "horizon_weeks": params.horizon_weeks,
        "annual_discount_rate": params.annual_discount_rate,
    }


def _fit_dict(fit) -> dict:
    out: dict = {"n": fit.n_customers}
    for key, value in asdict(fit).items():
        if isinstance(value, float | np.floating):
            out[key] = round(float(value), 6)
        elif isinstance(value, dict):
            out[key] = {k: round(float(v), 6) for k, v in value.items()}
        else:
            out[key] = value
    return out


def classify(scores: pd.DataFrame, has_role: pd.Series, params: EconomicsParams) -> pd.Series:
    """Two sides at once: profitable or not (CLV ≥ 0) × fits its role or not."""
    profitable = scores["clv"] >= 0
    fits = scores["role_fit"].fillna(-1) >= params.role_fit_threshold
    we_fail = scores["compliance"].fillna(100.0) < params.compliance_threshold
    klass = np.select(
        [
            ~has_role,
            profitable & fits,
            profitable & ~fits,
            ~profitable & fits & we_fail,
            ~profitable & fits,
        ],
        ["no_role", "partner", "develop", "fix_our_side", "reprice"],
        default="let_go",
    )
    return pd.Series(klass, index=scores.index)


def segment_complaint_means(complaints_per_year: pd.Series, segment: pd.Series) -> pd.Series:
    """Mean complaints a year of each segment (the yardstick of "inherently unhappy")."""
    return complaints_per_year.groupby(segment).mean()


def raise_flags(
    scores: pd.DataFrame,
    customers: pd.DataFrame,
    params: EconomicsParams,
    *,
    segment_complaints: pd.Series | None = None,
) -> pd.DataFrame:
    """Which flags each customer raises in this run: one boolean column per kind."""
    annual_margin = scores["annual_value"]
    # Among customers who bought this year (those who did not are "at risk" or
    # "unprofitable" already): serving them cost too much of the margin they brought.
    costly = (
        (scores["annual_cost_to_serve"] > params.costly_to_serve_ratio * annual_margin)
        & (scores["annual_cost_to_serve"] > 0)
        & (scores["purchases_last_year"] > 0)
    )
    if segment_complaints is None:
        segment_complaints = segment_complaint_means(
            scores["complaints_per_year"], customers["segment"]
        )
    segment_mean = customers["segment"].map(segment_complaints).astype("float64")
    unhappy = (
        (scores["complaints_per_year"] >= params.unhappy_complaints_multiple * segment_mean)
        & (scores["complaints_per_year"] >= params.unhappy_min_complaints_per_year)
        & (scores["forgiveness"].fillna(0.0) < params.unhappy_forgiveness_below)
    )
    active = customers["status"].isin(["active", "dormant"])
    at_risk = active & (scores["p_alive"] < params.at_risk_p_alive_below)
    failed = scores["compliance"] < params.compliance_threshold
    conditions = {  # in FLAG_KINDS order
        "unprofitable": scores["clv"] < 0,
        "costly_to_serve": costly,
        "inherently_unhappy": unhappy,
        "at_risk": at_risk,
        "failed_by_us": failed,
    }
    return pd.DataFrame(conditions).fillna(False).astype(bool)


def flag_mask(raised: pd.DataFrame) -> pd.Series:
    """The flags of each customer as bits: bit k set when it raises ``FLAG_KINDS[k]``."""
    bits = 1 << np.arange(len(FLAG_KINDS), dtype=np.int64)
    matrix = raised[FLAG_KINDS].to_numpy(dtype=np.int64)
    return pd.Series(matrix @ bits, index=raised.index, dtype=np.int64)


FLAG_LISTS = [
    [kind for k, kind in enumerate(FLAG_KINDS) if mask >> k & 1]
    for mask in range(1 << len(FLAG_KINDS))
]


def flag_lists(mask: pd.Series) -> pd.Series:
    """The list of flag kinds of each customer, from its bits (lists shared by value:
    read them, do not change them)."""
    lookup = np.empty(len(FLAG_LISTS), dtype=object)
    lookup[:] = FLAG_LISTS
    return pd.Series(lookup[mask.to_numpy()], index=mask.index)


def _share(mask: pd.Series) -> float:
    return float(mask.mean()) if len(mask) else 0.0


def whale_curve(profit: pd.Series) -> dict:
    """Cumulative profit against customers ranked by profit, best first, as shares."""
    ranked = np.sort(profit.to_numpy(dtype="float64"))[::-1]
    n = len(ranked)
    if n == 0:
        return {"customers_pct": [], "profit_pct": [], "total": 0.0}
    total = float(ranked.sum())
    cumulative = np.concatenate([[0.0], np.cumsum(ranked)])
    positions = np.unique(np.linspace(0, n, min(WHALE_POINTS, n + 1)).round().astype(int))
    scale = total if total != 0 else 1.0
    peak_at = int(np.argmax(cumulative))
    return {
        "customers_pct": (positions / n * 100).round(3).tolist(),
        "profit_pct": (cumulative[positions] / scale * 100).round(3).tolist(),
        "total": round(total, 2),
        "peak_customers_pct": round(peak_at / n * 100, 2),
        "peak_profit_pct": round(float(cumulative[peak_at]) / scale * 100, 2),
        "losers_pct": round(float((ranked < 0).mean()) * 100, 2),
        "losers_lose": round(float(-ranked[ranked < 0].sum()), 2),
    }


def _acquisition_quality(scores: pd.DataFrame, customers: pd.DataFrame, by: str) -> list[dict]:
    frame = pd.DataFrame(
        {
            "key": customers[by].fillna("").replace("", "(none)"),
            "clv": scores["clv"],
            "unprofitable": scores["clv"] < 0,
            "bonus": customers["sales_bonus"].astype("float64"),
        }
    )
    frame["bonus_on_losers"] = frame["bonus"].where(frame["unprofitable"], 0.0)
    grouped = frame.groupby("key").agg(
        customers=("clv", "size"),
        mean_clv=("clv", "mean"),
        total_clv=("clv", "sum"),
        unprofitable_share=("unprofitable", "mean"),
        bonuses_paid=("bonus", "sum"),
        bonuses_on_unprofitable=("bonus_on_losers", "sum"),
    )
    grouped = grouped.sort_values("total_clv", ascending=False).round(4)
    return [{"name": k, **{c: float(v) for c, v in row.items()}} for k, row in grouped.iterrows()]


def complaint_and_purchase_columns(data) -> pd.DataFrame:
    """Per customer, over the last twelve months: complaints, the concessions given
    within 30 days after one of them (each counted once), and purchase days."""
    index = data.index
    year_start = data.window_start()
    t = data.tickets
    complaints = t[t["is_complaint"] & (t["opened_at"] >= year_start)]
    a = data.activities
    concessions = a[(a["kind"] == "concession") & (a["date"] >= year_start)]
    concessions = concessions.assign(_row=np.arange(len(concessions)))
    pairs = complaints[["customer_id", "opened_at"]].merge(
        concessions[["customer_id", "date", "amount", "_row"]], on="customer_id"
    )
    after = (pairs["date"] >= pairs["opened_at"].dt.normalize()) & (
        pairs["date"] <= pairs["opened_at"] + pd.Timedelta(days=30)
    )
    followed = pairs.loc[after].drop_duplicates("_row")
    bought = data.rows("purchase_days").count(
        (data.purchase_days()["date"] >= year_start).to_numpy()
    )
    return pd.DataFrame(
        {
            "complaints_last_year": complaints.groupby("customer_id").size(),
            "complaint_concessions_last_year": followed["amount"]
            .astype("float64")
            .groupby(followed["customer_id"])
            .sum(),
            "purchases_last_year": bought[bought > 0],
        },
        index=index,
    ).fillna(0.0)


def company_kpis(
    scores: pd.DataFrame, data, annual_cost_to_serve: pd.Series, params: EconomicsParams
) -> dict:
    """The company's figures, from the per-customer columns (the dashboard computes the
    same from stored scores, for any filter). ``data``: anything with the customers
    frame and ``window_start()``."""
    customers = data.customers
    year_start = data.window_start()
    n_complaints = int(scores["complaints_last_year"].sum())
    concession_cost = float(scores["complaint_concessions_last_year"].sum())
    complaint_cost = (
        (n_complaints * params.cost.complaint_handling_cost + concession_cost) / n_complaints
        if n_complaints
        else None
    )
    acquired = customers["acquired_on"] >= year_start
    pool = (
        scores.loc[acquired, "acquisition_cost"] if acquired.any() else scores["acquisition_cost"]
    )
    annual_values = scores.loc[scores["purchases_last_year"] > 0, "annual_value"]
    with_cac = scores["acquisition_cost"] > 0
    mean_cac = float(scores.loc[with_cac, "acquisition_cost"].mean()) if with_cac.any() else None
    positive = float(scores.loc[scores["clv"] > 0, "clv"].sum())
    negative = float(-scores.loc[scores["clv"] < 0, "clv"].sum())
    klass_counts = scores["klass"].value_counts().to_dict()
    return {
        "customers": len(scores),
        "cost_of_complaint": None if complaint_cost is None else round(complaint_cost, 2),
        "complaints_last_year": n_complaints,
        "cost_of_new_customer": round(float(pool.mean()), 2) if len(pool) else None,
        "new_customers_last_year": int(acquired.sum()),
        "annual_value_of_customer": round(float(annual_values.mean()), 2)
        if len(annual_values)
        else None,
        "unprofitable_share": round(_share(scores["clv"] < 0), 4),
        "profit_lost_share": round(negative / positive, 4) if positive else None,
        "total_profit": round(float(scores["profit_to_date"].sum()), 2),
        "total_clv": round(float(scores["clv"].sum()), 2),
        "clv_to_cac": round(float(scores["clv"].mean()) / mean_cac, 3) if mean_cac else None,
        "acquisition_spend_last_year": round(
            float(scores.loc[acquired, "acquisition_cost"].sum()), 2
        ),
        "retention_spend_last_year": round(float(annual_cost_to_serve.sum()), 2),
        "classes": {str(k): int(v) for k, v in klass_counts.items()},
        "flags": {
            kind: int(((scores["flag_mask"].to_numpy() >> k) & 1).sum())
            for k, kind in enumerate(FLAG_KINDS)
        },
        "whale_curve": whale_curve(scores["profit_to_date"]),
        "by_sales_rep": _acquisition_quality(scores, customers, "sales_rep"),
        "by_channel": _acquisition_quality(scores, customers, "acquisition_channel"),
    }


def holdout_check(
    bg, rfm, holdout: pd.DataFrame, as_of: pd.Timestamp, end: pd.Timestamp
) -> tuple[dict, pd.DataFrame]:
    """Predicted against actual repeat purchases in (as_of, end]: per customer and in
    aggregate, with a weekly tracking series."""
    weeks = (end - as_of).days / 7.0
    tx = holdout[["customer_id", "date"]].drop_duplicates()
    tx = tx[tx["customer_id"].isin(rfm.customer_id)]
    actual = tx.groupby("customer_id").size().reindex(rfm.customer_id, fill_value=0)
    predicted = clv.expected_purchases(bg, weeks, rfm.frequency, rfm.recency, rfm.age)
    grid = np.unique(np.concatenate([np.arange(1, int(weeks) + 1, dtype="float64"), [weeks]]))
    tracked_pred = [
        float(clv.expected_purchases(bg, w, rfm.frequency, rfm.recency, rfm.age).sum())
        for w in grid
    ]
    week_of = ((tx["date"] - as_of).dt.days - 1) // 7 + 1
    counts = week_of.value_counts().sort_index()
    tracked_actual = [int(counts[counts.index <= w].sum()) for w in grid]
    per_customer = pd.DataFrame(
        {"predicted": predicted, "actual": actual.to_numpy()}, index=pd.Index(rfm.customer_id)
    )
    summary = {
        "weeks": round(weeks, 2),
        "predicted": round(float(predicted.sum()), 2),
        "actual": int(actual.sum()),
        "customers": len(per_customer),
        "mean_absolute_error": round(
            float(np.abs(per_customer["predicted"] - per_customer["actual"]).mean()), 4
        ),
        "tracking": {
            "week": grid.round(2).tolist(),
            "predicted": np.round(tracked_pred, 2).tolist(),
            "actual": tracked_actual,
        },
    }
    return summary, per_customer
