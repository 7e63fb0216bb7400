"""Runs and imports that a lost worker or broker left behind are found and settled."""

import datetime as dt

import pytest
from django.utils import timezone

from economics import services, tasks
from economics.models import EconomicsRun
from imports.models import ImportJob

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


def make_run(**fields) -> EconomicsRun:
    run = EconomicsRun.objects.create(as_of=dt.date(2026, 3, 1), **fields)
    EconomicsRun.objects.filter(pk=run.pk).update(created_at=fields.get("created_at", NOW))
    run.refresh_from_db()
    return run


def test_a_run_running_past_the_time_limit_is_failed_and_the_current_one_stays(
    monkeypatch,
):
    current = make_run(status="succeeded", active=None, is_current=True)
    lost = make_run(status="running", started_at=NOW - dt.timedelta(hours=3),
                    created_at=NOW - dt.timedelta(hours=3))  # fmt: skip
    counts = services.stuck_jobs_sweep(now=NOW)
    lost.refresh_from_db()
    assert counts["failed_runs"] == 1
    assert lost.status == "failed" and "stopped" in lost.error
    current.refresh_from_db()
    assert current.is_current


def test_a_run_no_worker_took_is_queued_again_once_then_failed(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run_economics_task, "delay", lambda pk: sent.append(pk))
    waiting = make_run(created_at=NOW - dt.timedelta(minutes=11))
    assert services.stuck_jobs_sweep(now=NOW)["requeued"] == 1
    assert sent == [waiting.pk]
    # Still not taken ten minutes later: failed, so the next run is not blocked.
    later = NOW + dt.timedelta(minutes=15)
    assert services.stuck_jobs_sweep(now=later)["failed_runs"] == 1
    waiting.refresh_from_db()
    assert waiting.status == "failed" and waiting.active is None
    assert sent == [waiting.pk]


def test_a_run_waiting_for_its_retry_is_left_alone_until_its_own_grace_ends(monkeypatch):
    sent = []
    monkeypatch.setattr(tasks.run_economics_task, "delay", lambda pk: sent.append(pk))
    # Requested an hour ago, put back in the queue for a retry two minutes ago.
    retrying = make_run(
        created_at=NOW - dt.timedelta(hours=1), attempts=2,
        started_at=NOW - dt.timedelta(minutes=2), stage="retrying after a connection error",
    )  # fmt: skip
    assert services.stuck_jobs_sweep(now=NOW) == {
        "requeued": 0, "failed_runs": 0, "failed_imports": 0
    }  # fmt: skip
    retrying.refresh_from_db()
    assert retrying.status == "queued"
    # Its retry never came: failed once the grace has passed since it was put back.
    assert services.stuck_jobs_sweep(now=NOW + dt.timedelta(minutes=9))["failed_runs"] == 1
    retrying.refresh_from_db()
    assert retrying.status == "failed" and sent == []


def test_a_fresh_run_is_left_alone():
    make_run(status="running", started_at=timezone.now(), created_at=timezone.now())
    assert services.stuck_jobs_sweep() == {"requeued": 0, "failed_runs": 0, "failed_imports": 0}


def test_an_import_running_past_the_time_limit_is_failed():
    job = ImportJob.objects.create(kind="orders", status="importing",
                                   started_at=NOW - dt.timedelta(hours=3))  # fmt: skip
    ImportJob.objects.filter(pk=job.pk).update(created_at=NOW - dt.timedelta(hours=3))
    assert services.stuck_jobs_sweep(now=NOW)["failed_imports"] == 1
    job.refresh_from_db()
    assert job.status == "failed"
