"""Who computes a run: a queued run is taken once; a running run whose process died is
taken over (what the dead attempt wrote is deleted); a run computed by a live process,
or claimed on another host, is left alone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from economics import services
from economics.models import CustomerScore, EconomicsRun
from economics.selectors import current_run
from tests.economics.conftest import AS_OF, build_base

pytestmark = pytest.mark.django_db

HOST = socket.gethostname()


@pytest.fixture(scope="module")
def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])  # our own interpreter
    process.wait()
    return process.pid


def running(claimed_by: str, *, attempts: int = 1) -> EconomicsRun:
    """A run some process took and is (or was) computing, with a score it wrote."""
    run = services.run_request(as_of=AS_OF, enqueue=False)
    EconomicsRun.objects.filter(pk=run.pk).update(
        status=EconomicsRun.Status.RUNNING, claimed_by=claimed_by, attempts=attempts,
        stage="saving scores",
    )  # fmt: skip
    return run


def write_a_score(run: EconomicsRun, customer_id: int) -> None:
    CustomerScore.objects.create(run=run, customer_id=customer_id, klass="no_role")


@pytest.fixture
def base(db):
    return build_base(n=300, seed=9)


def test_a_queued_run_is_claimed_by_this_process(base):
    run = services.run_request(as_of=AS_OF, enqueue=False)
    assert services.run_claim(run.pk) is True
    run.refresh_from_db()
    assert run.status == EconomicsRun.Status.RUNNING
    assert run.claimed_by == f"{HOST}:{os.getpid()}" == services.this_process()
    assert run.attempts == 1 and run.started_at is not None
    assert services.run_claim(run.pk) is False  # this process computes it: not twice


def test_a_run_whose_process_died_is_taken_over_and_published_once(base, dead_pid):
    run = running(f"{HOST}:{dead_pid}")
    for customer_id in base[:50]:  # what the dead attempt had saved
        write_a_score(run, customer_id)

    done = services.run_execute(run.pk)  # the task, handed out again

    assert done is not None and done.status == EconomicsRun.Status.SUCCEEDED, done.error
    assert done.claimed_by == services.this_process()
    assert done.attempts == 2
    assert current_run() == done
    scores = CustomerScore.objects.filter(run=done)
    assert scores.count() == len(base)
    assert scores.values("customer_id").distinct().count() == len(base)


def test_taking_over_deletes_what_the_dead_attempt_wrote(base, dead_pid):
    run = running(f"{HOST}:{dead_pid}")
    write_a_score(run, base[0])
    assert services.run_claim(run.pk) is True
    assert not CustomerScore.objects.filter(run=run).exists()
    run.refresh_from_db()
    assert run.stage == "loading data" and run.status == EconomicsRun.Status.RUNNING


def test_a_run_computed_by_a_live_process_is_left_alone(base):
    run = running(f"{HOST}:{os.getppid()}")  # the process that started this one: alive
    write_a_score(run, base[0])
    assert services.run_claim(run.pk) is False
    assert services.run_execute(run.pk) is None
    run.refresh_from_db()
    assert (run.status, run.claimed_by) == (EconomicsRun.Status.RUNNING, f"{HOST}:{os.getppid()}")
    assert CustomerScore.objects.filter(run=run).count() == 1


@pytest.mark.parametrize("claimed_by", ["elsewhere.example.com:{pid}", "", "{host}:not-a-pid"])
def test_a_run_claimed_on_another_host_or_unknown_is_left_alone(base, dead_pid, claimed_by):
    run = running(claimed_by.format(pid=dead_pid, host=HOST))
    assert services.run_claim(run.pk) is False
    run.refresh_from_db()
    assert run.status == EconomicsRun.Status.RUNNING


def test_a_finished_run_is_not_taken(base, dead_pid):
    run = running(f"{HOST}:{dead_pid}")
    services.run_fail(run_id=run.pk, error="stopped")
    assert services.run_claim(run.pk) is False
    run.refresh_from_db()
    assert run.status == EconomicsRun.Status.FAILED


def test_two_processes_cannot_both_take_over_a_run(base, dead_pid, monkeypatch):
    """Between reading who claimed the run and taking it, another process took it over:
    the compare-and-set on the old claim finds nothing, and this process backs off."""
    run = running(f"{HOST}:{dead_pid}")
    real = services._process_is_gone

    def another_process_takes_it_meanwhile(claimed_by):
        gone = real(claimed_by)
        EconomicsRun.objects.filter(pk=run.pk).update(claimed_by=f"{HOST}:{os.getppid()}")
        return gone

    monkeypatch.setattr(services, "_process_is_gone", another_process_takes_it_meanwhile)
    assert services.run_claim(run.pk) is False
    run.refresh_from_db()
    assert run.claimed_by == f"{HOST}:{os.getppid()}"


def test_a_run_whose_workers_keep_dying_is_failed(base, dead_pid):
    previous = services.run_execute(services.run_request(as_of=AS_OF, enqueue=False).pk)
    run = running(f"{HOST}:{dead_pid}", attempts=services.RUN_MAX_ATTEMPTS)
    write_a_score(run, base[0])
    assert services.run_claim(run.pk) is False
    run.refresh_from_db()
    assert run.status == EconomicsRun.Status.FAILED and run.active is None
    assert "stopped" in run.error
    assert not CustomerScore.objects.filter(run=run).exists()
    assert current_run() == previous


def test_a_failure_after_publishing_keeps_the_published_scores(base):
    done = services.run_execute(services.run_request(as_of=AS_OF, enqueue=False).pk)
    services.run_fail(run_id=done.pk, error="an error after publishing")
    done.refresh_from_db()
    assert done.status == EconomicsRun.Status.SUCCEEDED and current_run() == done
    assert CustomerScore.objects.filter(run=done).count() == len(base)
