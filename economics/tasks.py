"""Thin tasks: take ids, call a service."""

from celery import shared_task
from django.utils import timezone

from config.tasks import RETRY_OPTIONS, will_retry

from . import distributed
from .models import EconomicsRun
from .services import (
    EconomicsRunBusy,
    chunk_fail,
    cost_model_get,
    heartbeat_record,
    run_execute,
    run_request,
    stuck_jobs_sweep,
)


@shared_task(name="economics.tasks.record_heartbeat", ignore_result=False)
def record_heartbeat() -> int:
    """Proves a worker can reach the database; scheduled every minute by beat."""
    eager = bool(getattr(record_heartbeat.request, "is_eager", False))
    hostname = getattr(record_heartbeat.request, "hostname", None)
    return heartbeat_record(hostname=hostname, eager=eager).pk


@shared_task(
    bind=True,
    name="economics.tasks.run_economics",
    acks_late=True,
    ignore_result=False,
    **RETRY_OPTIONS,
)
def run_economics_task(self, run_id: int) -> str:
    """Compute and publish a queued run. A run finished or computed by a live process is
    left alone, so a redelivered message does no harm; one whose worker process died is
    taken over (``run_claim``). After a transient error the run is queued again and the
    task retried with backoff; when the retries are used up the run is failed."""
    run = run_execute(run_id, retry_transient=will_retry(self), distribute=True)
    return "skipped" if run is None else run.status


@shared_task(name="economics.tasks.nightly_economics", ignore_result=False)
def nightly_economics_task() -> str:
    if not cost_model_get().nightly_run:
        return "nightly run is switched off"
    try:
        run = run_request(as_of=timezone.localdate(), trigger=EconomicsRun.Trigger.SCHEDULE)
    except EconomicsRunBusy as exc:
        return str(exc)
    return f"queued run #{run.pk}"


@shared_task(name="economics.tasks.sweep_stuck_jobs", ignore_result=False)
def sweep_stuck_jobs_task() -> dict:
    """Every few minutes: runs and imports a lost worker or broker left behind."""
    return stuck_jobs_sweep()


@shared_task(
    bind=True,
    name="economics.tasks.score_chunk",
    acks_late=True,
    ignore_result=False,
    **RETRY_OPTIONS,
)
def score_chunk_task(self, run_id: int, first: int, last: int, prepared: dict) -> dict:
    """Score one chunk of a split run (idempotent: a second delivery rewrites the same
    rows). A lasting error fails the run; the chord then never publishes it."""
    try:
        return distributed.run_score_chunk(run_id, first, last, prepared)
    except Exception as exc:
        chunk_fail(run_id, exc, retry_transient=will_retry(self))
        raise


@shared_task(
    bind=True,
    name="economics.tasks.finish_run",
    acks_late=True,
    ignore_result=False,
    **RETRY_OPTIONS,
)
def finish_run_task(self, chunks: list[dict], run_id: int, prepared: dict) -> str:
    """The chord's callback: KPIs, flags, and the run made current."""
    try:
        run = distributed.run_finish(run_id, chunks, prepared)
    except Exception as exc:
        chunk_fail(run_id, exc, retry_transient=will_retry(self))
        raise
    return "skipped" if run is None else run.status
