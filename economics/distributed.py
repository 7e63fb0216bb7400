"""A run split across Celery workers: fit once, score the customers in chunks, publish.

The CLV model needs only per-customer summaries of the orders, and a handful of figures
of the whole base (the mean complaints a year of each segment, which "inherently
unhappy" compares with). So a large run goes in three steps:

1. ``run_prepare`` (the run's own task): reads the orders and tickets of the whole
   base, fits BG/NBD and Gamma-Gamma, and computes the segments' complaint means;
2. one ``run_score_chunk`` per range of customer ids (a Celery chord header): each
   reads its customers' history, scores them with the fitted model and writes their
   score rows — any worker on any machine can take a chunk;
3. ``run_finish`` (the chord's callback): the company KPIs from the stored scores,
   the flags, and the run made current, in one transaction (``services._publish``).

Every customer's scores are those a run in one process computes (a test compares
them). Until the last step the run is not current: nobody sees half of it. A chunk
writes its rows in one transaction after deleting any of a previous attempt, so a
chunk delivered twice writes them once.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from dataclasses import asdict, replace

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least

from customers.models import Customer, Order, SupportTicket

from . import bulk, clv, engine, partitions
from .inputs import load_run_inputs
from .metrics import MetricData, compute_all
from .metrics.data import (
    BOOL,
    DATE,
    FLOAT,
    INT,
    TEXT,
    TIMESTAMP,
    id_ranges,
    load_metric_data,
    read_frame,
)
from .models import CustomerScore, EconomicsRun

CHUNK_PARAMETER = "chunk_customers"
PREPARED_AT, SCORED_AT = 20, 95  # progress when the model is fitted, when all is scored


def chunk_size(run: EconomicsRun) -> int:
    """Customers per chunk for this run (0: never split)."""
    value = run.parameters.get(CHUNK_PARAMETER, settings.ECONOMICS_CHUNK_CUSTOMERS)
    return max(int(value or 0), 0)


def chunk_ranges(ids, size: int) -> list[tuple[int, int]]:
    """(first, last) customer ids, inclusive, of consecutive chunks of ``size``."""
    return id_ranges(ids, size)


def is_split(run: EconomicsRun) -> bool:
    """A run is split when its base is larger than one chunk (a holdout check compares
    predictions over the whole base: such a run is computed in one process)."""
    size = chunk_size(run)
    return bool(size) and run.holdout_end is None and Customer.objects.count() > size


def _progress(run_id: int, stage: str, percent: int) -> None:
    EconomicsRun.objects.filter(pk=run_id, status=EconomicsRun.Status.RUNNING).update(
        stage=stage, progress=percent
    )


def _fit_data(as_of) -> MetricData:
    """What the fit and the segments' complaint means read of the whole base: the
    customers, each order's day, revenue and cost, and the complaints."""
    data = load_metric_data(as_of=as_of, tables=())
    orders = read_frame(
        Order.objects.filter(date__lte=as_of),
        [("customer_id", "customer_id", INT), ("date", "date", DATE),
         ("revenue", "revenue", FLOAT), ("cost", "cost", FLOAT)],
        customer_ids=data.customers.index.to_numpy(),
    )  # fmt: skip
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min,
                              tzinfo=zoneinfo.ZoneInfo(settings.TIME_ZONE))  # fmt: skip
    tickets = read_frame(
        SupportTicket.objects.filter(
            is_complaint=True, opened_at__gte=end - dt.timedelta(days=400), opened_at__lt=end
        ),
        [("customer_id", "customer_id", INT), ("opened_at", "opened_at", TIMESTAMP),
         ("is_complaint", "is_complaint", BOOL)],
        customer_ids=data.customers.index.to_numpy(),
    )  # fmt: skip
    tickets["opened_at"] = (
        tickets["opened_at"].dt.tz_convert(settings.TIME_ZONE).dt.tz_localize(None)
    )
    return replace(data, orders=orders, tickets=tickets)


def run_prepare(run: EconomicsRun) -> tuple[dict, list[tuple[int, int]]]:
    """The model fitted on the whole base, and the chunks to score."""
    from .services import params_from

    params = params_from(run.parameters)
    started = time.perf_counter()
    data = _fit_data(run.as_of)
    loaded = time.perf_counter()
    _progress(run.pk, "fitting the model", 10)
    stage = engine.clv_stage(data.orders, data.as_of_ts, params)
    complaints = compute_all(data, [("complaints_per_year", {})])[("complaints_per_year", ())]
    means = engine.segment_complaint_means(complaints.fillna(0.0), data.customers["segment"])
    ranges = chunk_ranges(data.customers.index.to_numpy(), chunk_size(run))
    if partitions.is_partitioned():  # the chunks' rows go into one table of the run's
        partitions.staging_create(run.pk)
    _progress(run.pk, f"scoring customers in {len(ranges)} chunks", PREPARED_AT)
    prepared = {
        "bgnbd": asdict(stage.bgnbd),
        "gamma_gamma": asdict(stage.gamma_gamma),
        "segment_complaints": {str(k): float(v) for k, v in means.items()},
        "model": engine.model_summary(stage.bgnbd, stage.gamma_gamma, params),
        "chunks": len(ranges),
        "timings": {
            "load orders and tickets": round(loaded - started, 4),
            "model fit": round(time.perf_counter() - loaded, 4),
        },
    }
    return prepared, ranges


def run_score_chunk(run_id: int, first: int, last: int, prepared: dict) -> dict:
    """Score the customers with ids in [first, last] and write their rows."""
    from .services import params_from

    run = EconomicsRun.objects.filter(pk=run_id, status=EconomicsRun.Status.RUNNING).first()
    if run is None:  # failed meanwhile, or already published: nothing to do
        return {"skipped": True}
    fits = (clv.BGNBDFit(**prepared["bgnbd"]), clv.GammaGammaFit(**prepared["gamma_gamma"]))
    started = time.perf_counter()
    inputs = load_run_inputs(as_of=run.as_of, id_range=(first, last))
    loaded = time.perf_counter()
    result = engine.compute(
        inputs,
        params_from(run.parameters),
        fits=fits,
        segment_complaints=pd.Series(prepared["segment_complaints"], dtype="float64"),
        with_kpis=False,
    )
    computed = time.perf_counter()
    with transaction.atomic():
        partitions.delete_range(run_id, first, last)
        bulk.scores_write(run_id, result.scores, attach=False)
    step = max((SCORED_AT - PREPARED_AT) // max(prepared["chunks"], 1), 1)
    EconomicsRun.objects.filter(pk=run_id, status=EconomicsRun.Status.RUNNING).update(
        progress=Least(F("progress") + step, SCORED_AT)
    )
    return {
        "customers": len(result.scores),
        "timings": {
            "load data": round(loaded - started, 4),
            "compute": round(computed - loaded, 4),
            "save scores": round(time.perf_counter() - computed, 4),
        },
    }


class _Base:
    """What ``engine.company_kpis`` reads of the base: the customers, and the window as
    ``MetricData`` defines it."""

    as_of_ts = MetricData.as_of_ts
    end_of_day = MetricData.end_of_day
    window_start = MetricData.window_start

    def __init__(self, customers: pd.DataFrame, as_of):
        self.customers = customers
        self.as_of = as_of


SCORE_COLUMNS = [
    ("customer_id", "customer_id", INT), ("clv", "clv", FLOAT),
    ("profit_to_date", "profit_to_date", FLOAT), ("acquisition_cost", "acquisition_cost", FLOAT),
    ("annual_value", "annual_value", FLOAT),
    ("annual_cost_to_serve", "annual_cost_to_serve", FLOAT),
    ("purchases_last_year", "purchases_last_year", INT),
    ("complaints_last_year", "complaints_last_year", INT),
    ("complaint_concessions_last_year", "complaint_concessions_last_year", FLOAT),
    ("complaints_per_year", "complaints_per_year", FLOAT), ("p_alive", "p_alive", FLOAT),
    ("compliance", "compliance", FLOAT), ("klass", "klass", TEXT),
    ("flag_mask", "flag_mask", INT),
]  # fmt: skip
CUSTOMER_COLUMNS = [
    ("pk", "id", INT), ("acquired_on", "acquired_on", DATE), ("sales_rep", "sales_rep", TEXT),
    ("acquisition_channel", "acquisition_channel", TEXT), ("sales_bonus", "sales_bonus", FLOAT),
]  # fmt: skip


def run_finish(run_id: int, chunks: list[dict], prepared: dict) -> EconomicsRun | None:
    """The company KPIs from the stored scores, flags, and the run made current."""
    from .services import _publish, params_from

    run = EconomicsRun.objects.filter(pk=run_id, status=EconomicsRun.Status.RUNNING).first()
    if run is None:
        return None
    _progress(run_id, "publishing", 98)
    started = time.perf_counter()
    partitions.attach(run_id)  # the chunks' rows, indexed and checked in one pass
    partitions.analyze(run_id)  # a million new rows: the planner must know them
    scores = read_frame(CustomerScore.objects.filter(run_id=run_id), SCORE_COLUMNS)
    scores = scores.set_index("customer_id").sort_index()
    customers = read_frame(Customer.objects.all(), CUSTOMER_COLUMNS)
    customers = customers.set_index("id").reindex(scores.index)
    kpis = engine.company_kpis(
        scores, _Base(customers, run.as_of), scores["annual_cost_to_serve"],
        params_from(run.parameters),
    )  # fmt: skip
    done = [c for c in chunks if not c.get("skipped")]
    timings = {
        **prepared["timings"],
        "slowest chunk": round(max((sum(c["timings"].values()) for c in done), default=0.0), 4),
        "chunk time, all chunks": round(sum(sum(c["timings"].values()) for c in done), 4),
        "company KPIs": round(time.perf_counter() - started, 4),
    }
    result = engine.EngineResult(scores=scores, model=prepared["model"], kpis=kpis, timings=timings)
    began = time.perf_counter()
    _publish(run, result, extra_timing=lambda: time.perf_counter() - began)
    return EconomicsRun.objects.get(pk=run_id)
