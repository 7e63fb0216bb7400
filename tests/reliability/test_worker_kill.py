"""A worker process killed in the middle of an economics run, with a real Celery worker
(prefork pool) on Redis and PostgreSQL: the previous run stays current while the run is
in limbo; the task is handed out again (``acks_late`` + ``reject_on_worker_lost``) to a
new pool process, which takes the run over from the dead one (``run_claim``) and
publishes it; and the published figures equal those of one clean run on the same data.

Marked ``worker_kill`` and left out of ``make test``: ``make test-faults`` runs it, on
the PostgreSQL + Redis pass of ``.ci/run``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from economics import services
from economics.models import CustomerFlag, CustomerScore, EconomicsRun
from economics.selectors import current_run
from tests.conftest import ROOT, _database_url_for_worker
from tests.economics.conftest import AS_OF, build_base

pytestmark = [pytest.mark.worker_kill, pytest.mark.django_db(transaction=True)]

HOLD_STAGE = "publishing"  # the scores are saved, the run is not published yet
WAIT_S = 180


def wait_for(what: str, check, timeout: float = WAIT_S, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    tail = log.read_text()[-4000:] if log and log.exists() else ""
    pytest.fail(f"Timed out waiting for {what}.\n{tail}")


def parent_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rpartition(")")[2].split()[1])


def alive(pid: int) -> bool:
    return not services._process_is_gone(f"{socket.gethostname()}:{pid}")


@pytest.fixture
def prefork_worker(tmp_path):
    """A real worker with the prefork pool and one pool process, holding economics runs
    at ``HOLD_STAGE`` while the returned hold file exists."""
    if settings.CELERY_TASK_ALWAYS_EAGER or connection.vendor != "postgresql":
        pytest.fail(
            "The worker-kill test needs a broker and a database another process can reach: "
            "DATABASE_URL=postgres://… CELERY_BROKER_URL=redis://… make test-faults"
        )
    from config.celery import app

    app.control.purge()
    hold = tmp_path / "hold"
    log_path = tmp_path / "worker.log"
    name = f"tango-kill-{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for_worker(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "TANGO_TEST_HOLD_STAGE": HOLD_STAGE,
        "TANGO_TEST_HOLD_FILE": str(hold),
    }
    with log_path.open("w") as log:
        proc = subprocess.Popen(  # noqa: S603 — our own interpreter and arguments
            [sys.executable, "-m", "tests.reliability.holding_worker", "--pool=prefork",
             "--concurrency=1", "-l", "INFO", "-n", name, "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while not app.control.ping(destination=[name], timeout=1.0):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"The worker did not start: {log_path.read_text()[-3000:]}")
            yield proc, hold, log_path
        finally:
            hold.unlink(missing_ok=True)
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            app.control.purge()


SCORE_FIELDS = [
    f.attname for f in CustomerScore._meta.concrete_fields if f.name not in ("id", "run")
]


def published(run: EconomicsRun) -> dict:
    """What a run published, without its id and times: every score column per customer,
    the open flags, the KPIs and the fitted model."""
    run.refresh_from_db()
    scores = list(CustomerScore.objects.filter(run=run).order_by("customer_id")
                  .values(*SCORE_FIELDS))  # fmt: skip
    return {
        "customers": run.customers,
        "scores": scores,
        "flags": sorted(
            CustomerFlag.objects.filter(status=CustomerFlag.Status.OPEN).values_list(
                "customer_id", "kind", "detail", "decision"
            )
        ),
        "kpis": run.kpis,
        "model": run.model,
    }


def dashboard_run_and_customers(client) -> tuple[int, int, float]:
    response = client.get(reverse("economics:dashboard"))
    assert response.status_code == 200
    totals = response.context["data"].breakdown.totals
    return response.context["run"].pk, totals.customers, totals.clv


def test_a_worker_killed_in_the_middle_of_a_run(prefork_worker, client, executive):
    proc, hold, log = prefork_worker
    customers = build_base(n=300, seed=13)
    clean = services.run_execute(services.run_request(as_of=AS_OF, enqueue=False).pk)
    assert clean.status == EconomicsRun.Status.SUCCEEDED
    expected = published(clean)
    assert len(expected["scores"]) == len(customers) and expected["flags"]
    clean_clv = sum(float(row["clv"]) for row in expected["scores"])
    client.force_login(executive)

    # A second run on the same data and date, held in the middle, its scores saved.
    hold.touch()
    run = services.run_request(as_of=AS_OF)

    def held() -> EconomicsRun | None:
        run.refresh_from_db()
        return run if run.stage == HOLD_STAGE and run.claimed_by else None

    wait_for("the run to reach its middle", held, log=log)
    host, _, pid = run.claimed_by.rpartition(":")
    victim = int(pid)
    assert host == socket.gethostname()
    assert victim != proc.pid and parent_of(victim) == proc.pid, "a pool process computes it"
    assert run.status == EconomicsRun.Status.RUNNING and run.attempts == 1
    assert CustomerScore.objects.filter(run=run).count() == len(customers)
    assert current_run() == clean

    os.kill(victim, signal.SIGKILL)
    wait_for("the pool process to die", lambda: not alive(victim), log=log)

    # In limbo: the previous run is current, and the dashboard shows its figures.
    assert current_run() == clean
    run.refresh_from_db()
    assert run.status in (EconomicsRun.Status.RUNNING, EconomicsRun.Status.QUEUED)
    shown, counted, clv = dashboard_run_and_customers(client)
    assert (shown, counted) == (clean.pk, len(customers))
    assert clv == pytest.approx(clean_clv)

    # Handed out again to a new pool process, which takes the run over from the dead one.
    def taken_over() -> EconomicsRun | None:
        run.refresh_from_db()
        fresh = run.claimed_by and run.claimed_by != f"{host}:{victim}"
        return run if fresh and run.stage == HOLD_STAGE else None

    wait_for("the run to be taken over by a new pool process", taken_over, log=log)
    successor = int(run.claimed_by.rpartition(":")[2])
    assert alive(successor) and parent_of(successor) == proc.pid
    assert run.attempts == 2
    assert current_run() == clean
    assert dashboard_run_and_customers(client)[0] == clean.pk
    # The dead attempt's scores were deleted: one score per customer, not two.
    assert CustomerScore.objects.filter(run=run).count() == len(customers)

    hold.unlink()

    def finished() -> EconomicsRun | None:
        run.refresh_from_db()
        return run if run.active is None else None

    wait_for("the run to finish", finished, log=log)
    assert run.status == EconomicsRun.Status.SUCCEEDED, run.error
    assert current_run() == run
    final = CustomerScore.objects.filter(run=run)
    assert final.count() == len(customers)
    assert final.values("customer_id").distinct().count() == len(customers)
    assert published(run) == expected
    assert dashboard_run_and_customers(client)[:2] == (run.pk, len(customers))
