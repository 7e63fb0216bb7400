"""Writes of the economics module: the cost model, economics runs and flag decisions.

A run is computed while the previous good run stays current; its results become
visible all at once, in the one transaction that makes it current. A failure leaves
the previous run current and removes what the failed run had written.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import traceback
from datetime import timedelta
from decimal import Decimal

import pandas as pd
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services import AuditAction, audit_record, changes
from config.tasks import RETRY_OPTIONS, TRANSIENT_ERRORS
from customers.models import Order

from . import bulk, distributed, engine, partitions
from .costs import CostParams
from .inputs import load_run_inputs
from .metrics.memory import release_freed_memory
from .models import CostModel, CustomerFlag, EconomicsRun, WorkerHeartbeat

log = logging.getLogger(__name__)

HEARTBEATS_KEPT = timedelta(days=1)
COST_MODEL_FIELDS = [
    "ticket_handling_cost",
    "complaint_handling_cost",
    "collection_cost_per_late_invoice",
    "cost_of_capital_rate",
    "annual_discount_rate",
    "forecast_horizon_months",
    "role_fit_threshold",
    "compliance_threshold",
    "costly_to_serve_ratio",
    "unhappy_complaints_multiple",
    "unhappy_min_complaints_per_year",
    "unhappy_forgiveness_below",
    "at_risk_p_alive_below",
    "runs_kept",
    "nightly_run",
]


class EconomicsRunBusy(Exception):
    """Another run is queued or running."""


@transaction.atomic
def heartbeat_record(*, hostname: str | None = None, eager: bool = False) -> WorkerHeartbeat:
    """Write a heartbeat and forget those older than a day."""
    now = timezone.now()
    beat = WorkerHeartbeat.objects.create(
        hostname=hostname or socket.gethostname(), at=now, eager=eager
    )
    WorkerHeartbeat.objects.filter(at__lt=now - HEARTBEATS_KEPT).delete()
    return beat


# --- the cost model -------------------------------------------------------------------


def cost_model_get() -> CostModel:
    model = CostModel.objects.order_by("pk").first()
    return model or CostModel.objects.create()


@transaction.atomic
def cost_model_update(*, user, **values) -> CostModel:
    model = CostModel.objects.select_for_update().get(pk=cost_model_get().pk)
    audit_record(
        action=AuditAction.COST_MODEL_CHANGED, actor=user, obj=model, detail=changes(model, values)
    )
    for name, value in values.items():
        if name not in COST_MODEL_FIELDS:
            raise ValidationError(f"{name} is not part of the cost model.")
        setattr(model, name, value)
    model.updated_by = user
    model.full_clean()
    model.save()
    return model


def _parameters(model: CostModel) -> dict:
    return {
        name: (str(getattr(model, name)) if isinstance(getattr(model, name), Decimal)
               else getattr(model, name))
        for name in COST_MODEL_FIELDS
    }  # fmt: skip


def params_from(parameters: dict) -> engine.EconomicsParams:
    f = {k: float(v) for k, v in parameters.items() if k not in ("nightly_run",)}
    return engine.EconomicsParams(
        cost=CostParams(
            ticket_handling_cost=f["ticket_handling_cost"],
            complaint_handling_cost=f["complaint_handling_cost"],
            collection_cost_per_late_invoice=f["collection_cost_per_late_invoice"],
            cost_of_capital_rate=f["cost_of_capital_rate"],
        ),
        annual_discount_rate=f["annual_discount_rate"],
        forecast_horizon_months=int(f["forecast_horizon_months"]),
        role_fit_threshold=f["role_fit_threshold"],
        compliance_threshold=f["compliance_threshold"],
        costly_to_serve_ratio=f["costly_to_serve_ratio"],
        unhappy_complaints_multiple=f["unhappy_complaints_multiple"],
        unhappy_min_complaints_per_year=f["unhappy_min_complaints_per_year"],
        unhappy_forgiveness_below=f["unhappy_forgiveness_below"],
        at_risk_p_alive_below=f["at_risk_p_alive_below"],
    )


# --- runs -----------------------------------------------------------------------------


def run_request(
    *,
    as_of: dt.date | None = None,
    holdout_end: dt.date | None = None,
    trigger: str = EconomicsRun.Trigger.UI,
    user=None,
    enqueue: bool = True,
    chunk_customers: int | None = None,
) -> EconomicsRun:
    """Queue a run. Refused with EconomicsRunBusy while another is queued or running.
    The run keeps a copy of the cost model as it is now. ``chunk_customers``: split
    the run across workers in chunks of this many customers (default: the setting
    ``ECONOMICS_CHUNK_CUSTOMERS``; 0: never)."""
    parameters = _parameters(cost_model_get())
    if chunk_customers is not None:
        if chunk_customers < 0:
            raise ValidationError("A chunk holds at least one customer (0: do not split).")
        parameters[distributed.CHUNK_PARAMETER] = int(chunk_customers)
    as_of = as_of or timezone.localdate()
    if holdout_end is not None and holdout_end <= as_of:
        raise ValidationError("The holdout period must end after the as-of date.")
    try:
        with transaction.atomic():
            run = EconomicsRun.objects.create(
                as_of=as_of,
                holdout_end=holdout_end,
                trigger=trigger,
                requested_by=user,
                parameters=parameters,
                stage="queued",
            )
            audit_record(
                action=AuditAction.ECONOMICS_RUN_REQUESTED,
                actor=user,
                obj=run,
                detail={"trigger": trigger, "as_of": as_of, "holdout_end": holdout_end},
            )
            if enqueue:
                from .tasks import run_economics_task

                transaction.on_commit(lambda: run_economics_task.delay(run.pk))
    except IntegrityError as exc:
        busy = EconomicsRun.objects.filter(active=True).first()
        since = f" (run #{busy.pk}, {busy.get_status_display().lower()})" if busy else ""
        raise EconomicsRunBusy(
            f"An economics run is already under way{since}; wait for it to finish."
        ) from exc
    return run


def _progress(run_id: int, stage: str, percent: int) -> None:
    EconomicsRun.objects.filter(pk=run_id).update(stage=stage, progress=min(percent, 100))


def run_execute(
    run_id: int,
    *,
    fail_at: str | None = None,
    retry_transient: bool = False,
    distribute: bool = False,
) -> EconomicsRun | None:
    """Compute a run and publish it. Idempotent: a run that ``run_claim`` does not give
    this process (finished, or computed by a live process) is left alone.

    On a transient error (``config.tasks.TRANSIENT_ERRORS``) with ``retry_transient``
    (the task has retries left) the run is queued again for the retry; on any other
    error, or when no retry is left, it is failed. The error is raised either way.
    ``fail_at`` names a stage at which to fail on purpose (used to prove a failure
    leaves nothing behind). With ``distribute`` (a task on a broker) a run larger than
    one chunk is fitted here and scored in chunks by the workers (``distributed``); it
    is still running when this returns."""
    if not run_claim(run_id):
        return None
    run = EconomicsRun.objects.get(pk=run_id)
    try:
        if distribute and distributed.is_split(run):
            _dispatch_chunks(run)
        else:
            _compute_and_publish(run, fail_at=fail_at)
    except Exception as exc:
        if isinstance(exc, TRANSIENT_ERRORS) and retry_transient and _run_requeue(run_id, exc):
            log.warning("Economics run %s will be retried after %r", run_id, exc)
            raise
        log.exception("Economics run %s failed", run_id)
        run_fail(run_id=run_id, error=f"{exc.__class__.__name__}: {exc}",
                 detail=traceback.format_exc(limit=6))  # fmt: skip
        raise
    return EconomicsRun.objects.get(pk=run_id)


def _dispatch_chunks(run: EconomicsRun) -> None:
    """Fit the model, then a chord: one task per chunk of customers, and the publishing
    task once all have written their scores."""
    from celery import chord

    from .tasks import finish_run_task, score_chunk_task

    prepared, ranges = distributed.run_prepare(run)
    header = [score_chunk_task.s(run.pk, first, last, prepared) for first, last in ranges]
    chord(header)(finish_run_task.s(run.pk, prepared))


def chunk_fail(run_id: int, exc: BaseException, *, retry_transient: bool) -> None:
    """A chunk or the publishing step of a split run failed: a transient error is left
    to the task's retry (the step is idempotent); any other fails the run."""
    if isinstance(exc, TRANSIENT_ERRORS) and retry_transient:
        log.warning("Economics run %s: a step will be retried after %r", run_id, exc)
        return
    log.exception("Economics run %s failed in a chunk", run_id)
    run_fail(run_id=run_id, error=f"{exc.__class__.__name__}: {exc}",
             detail=traceback.format_exc(limit=6))  # fmt: skip


# A run whose worker process keeps dying (killed for its memory, say) is not taken over
# for ever: after this many attempts it is failed.
RUN_MAX_ATTEMPTS = RETRY_OPTIONS["max_retries"] + 1


def this_process() -> str:
    """``host:pid``, as a run's ``claimed_by`` names the process computing it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_is_gone(claimed_by: str) -> bool:
    """Whether ``claimed_by`` names a process on this host that no longer runs. A
    process on another host, or one that cannot be checked, counts as alive."""
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) <= 0:
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # it exists, as another user's process
        return False
    try:  # a dead child its parent has not reaped yet (Linux)
        with open(f"/proc/{int(pid)}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def run_claim(run_id: int) -> bool:
    """Take a run for this process to compute; True when it is taken.

    A queued run is taken. So is a running run whose ``claimed_by`` names a process on
    this host that is no longer alive: its task was handed out again after the worker
    process computing it died (``acks_late`` with ``reject_on_worker_lost``). Taking
    it over deletes the scores the dead attempt wrote, and the run starts again. Each
    take is one compare-and-set UPDATE (on the status, or on the old ``claimed_by``), so
    two processes never both take a run. A run that is finished, computed by a live
    process, or claimed on another host is left alone (the sweeper fails one stuck past
    the time limit). A run whose workers died ``RUN_MAX_ATTEMPTS`` times is failed."""
    start = {
        "status": EconomicsRun.Status.RUNNING,
        "claimed_by": this_process(),
        "started_at": timezone.now(),
        "stage": "loading data",
        "progress": 1,
        "attempts": F("attempts") + 1,
    }
    if EconomicsRun.objects.filter(pk=run_id, status=EconomicsRun.Status.QUEUED).update(**start):
        return True
    left = (
        EconomicsRun.objects.filter(pk=run_id, status=EconomicsRun.Status.RUNNING)
        .exclude(claimed_by="")
        .values("claimed_by", "attempts")
        .first()
    )
    if left is None or not _process_is_gone(left["claimed_by"]):
        return False
    dead = left["claimed_by"]
    if left["attempts"] >= RUN_MAX_ATTEMPTS:
        run_fail(
            run_id=run_id,
            claimed_by=dead,
            error=f"The worker process computing this run stopped {left['attempts']} times; "
            "it was not computed.",
        )
        return False
    with transaction.atomic():
        taken = EconomicsRun.objects.filter(
            pk=run_id, status=EconomicsRun.Status.RUNNING, claimed_by=dead
        ).update(**start)
        if taken:
            partitions.discard(run_id)
    if taken:
        log.warning("Economics run %s: its process %s stopped; computing it again", run_id, dead)
    return bool(taken)


def _run_requeue(run_id: int, exc: BaseException) -> bool:
    """After a transient error: put the run back in the queue for the task's retry. What
    the attempt wrote is deleted and its attempts are kept; the stage and the error say
    it will be tried again. False when the run is no longer this process's."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()  # reconnect after a lost connection
    with transaction.atomic():
        requeued = EconomicsRun.objects.filter(
            pk=run_id, status=EconomicsRun.Status.RUNNING, claimed_by=this_process()
        ).update(
            status=EconomicsRun.Status.QUEUED,
            claimed_by="",
            stage="retrying after a connection error",
            progress=0,
            started_at=timezone.now(),  # queued again now
            error=f"Attempt interrupted, retrying: {exc.__class__.__name__}: {exc}"[:10000],
        )
        if requeued:
            partitions.discard(run_id)
    return bool(requeued)


def run_fail(*, run_id: int, error: str, detail: str = "", claimed_by: str | None = None) -> None:
    """Mark a queued or running run failed and remove whatever it wrote; the current run
    stays current. With ``claimed_by``, only while that process still claims it. A run
    that was published after all keeps its scores."""
    claim = {} if claimed_by is None else {"claimed_by": claimed_by}
    with transaction.atomic():
        EconomicsRun.objects.filter(pk=run_id, active=True, **claim).update(
            status=EconomicsRun.Status.FAILED,
            active=None,
            finished_at=timezone.now(),
            error=(error + ("\n\n" + detail if detail else ""))[:10000],
        )
        if EconomicsRun.objects.filter(pk=run_id, status=EconomicsRun.Status.FAILED).exists():
            partitions.discard(run_id)


def _holdout_orders(as_of: dt.date, end: dt.date) -> pd.DataFrame:
    rows = list(
        Order.objects.filter(date__gt=as_of, date__lte=end).values_list("customer_id", "date")
    )
    frame = pd.DataFrame(rows, columns=["customer_id", "date"])
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _compute_and_publish(run: EconomicsRun, *, fail_at: str | None) -> None:
    def report(stage: str, percent: int) -> None:
        if fail_at == stage:
            raise RuntimeError(f"failure injected after {stage}")
        _progress(run.pk, stage, percent)

    started = time.perf_counter()
    inputs = load_run_inputs(as_of=run.as_of)
    loading = time.perf_counter() - started
    report("data loaded", 15)
    holdout = _holdout_orders(run.as_of, run.holdout_end) if run.holdout_end else None
    result = engine.compute(
        inputs,
        params_from(run.parameters),
        progress=report,
        holdout=holdout,
        holdout_end=pd.Timestamp(run.holdout_end) if run.holdout_end else None,
    )
    del inputs, holdout  # the history is not needed to save: its memory goes back first
    release_freed_memory()
    report("saving scores", 93)
    started = time.perf_counter()
    _write_scores(run, result.scores)
    result.timings = {"load data": round(loading, 4), **result.timings,
                      "save scores": round(time.perf_counter() - started, 4)}  # fmt: skip
    report("publishing", 98)
    started = time.perf_counter()
    _publish(run, result, extra_timing=lambda: time.perf_counter() - started)


def _write_scores(run: EconomicsRun, scores: pd.DataFrame) -> None:
    bulk.scores_write(run.pk, scores)


def _publish(run: EconomicsRun, result: engine.EngineResult, extra_timing=None) -> None:
    """In one transaction: flags follow this run, the run becomes current."""
    now = timezone.now()
    with transaction.atomic():
        locked = EconomicsRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != EconomicsRun.Status.RUNNING:
            raise RuntimeError(f"Run #{run.pk} is {locked.status}; it cannot be published.")
        bulk.flags_sync(run.pk, result.scores, now)
        if extra_timing is not None:
            result.timings["publish"] = round(extra_timing(), 4)
        EconomicsRun.objects.filter(is_current=True).update(is_current=None)
        EconomicsRun.objects.filter(pk=run.pk).update(
            status=EconomicsRun.Status.SUCCEEDED,
            active=None,
            is_current=True,
            stage="done",
            progress=100,
            finished_at=now,
            model=result.model,
            kpis=result.kpis,
            holdout=result.holdout,
            timings=result.timings,
            customers=len(result.scores),
            error="",
        )
    _prune(keep=int(run.parameters.get("runs_kept", 30)))
    _after_publish(run)


def _after_publish(run: EconomicsRun) -> None:
    """Fresh statistics for the planner (a run adds many rows at once, too few of the
    table for auto-analyze to notice) and the dashboard's figures computed once, so the
    first executive to open it does not wait."""
    from customers.filters import CustomerFilter

    from .dashboard import cached_dashboard
    from .selectors import previous_run

    partitions.analyze(run.pk)
    try:
        cached_dashboard(run, previous_run(run), CustomerFilter())
    except Exception:  # the run is published; a cold dashboard is only slower
        log.exception("Could not prepare the dashboard for run %s", run.pk)


def _prune(*, keep: int) -> int:
    """Delete the oldest finished runs beyond ``keep``; the current run is never pruned."""
    finished = EconomicsRun.objects.filter(active__isnull=True).exclude(is_current=True)
    stale = list(finished.order_by("-created_at", "-pk").values_list("pk", flat=True)[keep - 1 :])
    # A run whose scores cannot be dropped now (long queries reading them) is kept
    # until the next prune.
    gone = [pk for pk in stale if partitions.discard(pk)]
    if gone:
        EconomicsRun.objects.filter(pk__in=gone).delete()
    return len(gone)


# --- flag decisions -------------------------------------------------------------------


@transaction.atomic
def flag_decide(
    *,
    flag: CustomerFlag,
    decision: str,
    user,
    reason: str = "",
    snoozed_until: dt.date | None = None,
) -> CustomerFlag:
    """A person's decision on an open flag; it stays with the flag across runs."""
    flag = CustomerFlag.objects.select_for_update().get(pk=flag.pk)
    if flag.status != CustomerFlag.Status.OPEN:
        raise ValidationError("This flag is closed: the condition has cleared.")
    if not decision or decision not in set(CustomerFlag.Decision):
        raise ValidationError("Choose accept, dismiss or snooze.")
    if decision == CustomerFlag.Decision.DISMISSED and not reason.strip():
        raise ValidationError({"reason": "Say why this flag is dismissed."})
    if decision == CustomerFlag.Decision.SNOOZED and (
        snoozed_until is None or snoozed_until <= timezone.localdate()
    ):
        raise ValidationError({"snoozed_until": "Snooze until a date in the future."})
    flag.decision = decision
    flag.decision_reason = reason.strip()
    flag.snoozed_until = snoozed_until if decision == CustomerFlag.Decision.SNOOZED else None
    flag.decided_by = user
    flag.decided_at = timezone.now()
    flag.full_clean()
    flag.save(update_fields=["decision", "decision_reason", "snoozed_until", "decided_by",
                             "decided_at"])  # fmt: skip
    audit_record(
        action=AuditAction.FLAG_DECIDED,
        actor=user,
        obj=flag,
        detail={
            "kind": flag.kind,
            "decision": decision,
            "reason": flag.decision_reason,
            "snoozed_until": flag.snoozed_until,
        },
    )
    return flag


@transaction.atomic
def activity_rate_set(*, activity_type, effective_from: dt.date, unit_cost: Decimal, user=None):
    """The unit cost of an activity type from a date on. Earlier rates stay: runs as of
    earlier dates keep using them. Setting a rate for a day that has one replaces it."""
    from customers.models import ActivityRate

    rate, _ = ActivityRate.objects.update_or_create(
        activity_type=activity_type,
        effective_from=effective_from,
        defaults={"unit_cost": unit_cost},
    )
    rate.full_clean()
    audit_record(
        action=AuditAction.ACTIVITY_RATE_SET,
        actor=user,
        obj=rate,
        detail={
            "activity_type": activity_type,
            "effective_from": effective_from,
            "unit_cost": unit_cost,
        },
    )
    return rate


# --- the sweeper ----------------------------------------------------------------------

QUEUED_GRACE = timedelta(minutes=10)


def stuck_jobs_sweep(*, now=None) -> dict[str, int]:
    """Runs and imports left queued or running after a broker or worker loss.

    A run queued for longer than ``QUEUED_GRACE`` without a worker taking it is queued
    again (its task is idempotent: a second delivery does nothing); one running longer
    than the task time limit, or queued again and still not taken, is failed — the
    previous run stays current. An import running longer than the time limit is failed,
    which frees its kind for the next import (its write was one transaction)."""
    from django.conf import settings

    from imports.models import ImportJob
    from imports.services import import_job_mark_failed

    from .tasks import run_economics_task

    now = now or timezone.now()
    limit = timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    counts = {"requeued": 0, "failed_runs": 0, "failed_imports": 0}
    for run in EconomicsRun.objects.filter(
        status=EconomicsRun.Status.RUNNING, started_at__lt=now - limit
    ):
        run_fail(run_id=run.pk, error="The worker stopped without finishing this run.")
        counts["failed_runs"] += 1
    for run in EconomicsRun.objects.filter(
        status=EconomicsRun.Status.QUEUED, created_at__lt=now - QUEUED_GRACE
    ).filter(
        # A run put back in the queue to be retried counts from when it was put back.
        Q(started_at__isnull=True) | Q(started_at__lt=now - QUEUED_GRACE)
    ):
        if run.attempts == 0 and run.created_at >= now - 2 * QUEUED_GRACE:
            EconomicsRun.objects.filter(pk=run.pk).update(attempts=1)
            run_economics_task.delay(run.pk)
            counts["requeued"] += 1
        else:
            run_fail(run_id=run.pk, error="No worker took this run; it was not computed.")
            counts["failed_runs"] += 1
    for job in ImportJob.objects.filter(
        status__in=ImportJob.RUNNING, created_at__lt=now - limit
    ).filter(Q(started_at__isnull=True) | Q(started_at__lt=now - limit)):
        if import_job_mark_failed(job=job, reason="The worker stopped without finishing."):
            counts["failed_imports"] += 1
    return counts
