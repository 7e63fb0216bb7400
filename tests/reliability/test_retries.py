"""Transient errors (the database or the broker out of reach) are retried with backoff
and jitter, a bounded number of times; any other error fails the work at once.

Tasks run eagerly here, with errors kept in the task's result (``task_eager_propagates``
off): Celery then runs a retry at once, in-process, without waiting for its countdown,
so nothing sleeps; the countdown asked for is checked instead. (With errors propagating,
Celery raises the retry to the caller rather than running it: such a task is not
retried, its work fails at once.)"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from config.tasks import RETRY_OPTIONS, TRANSIENT_ERRORS, RetryingTask, will_retry
from customers.models import Order
from economics import services
from economics import tasks as economics_tasks
from economics.models import CustomerScore, EconomicsRun
from economics.selectors import current_run
from imports import services as import_services
from imports import tasks as import_tasks
from imports.models import ImportJob
from tests.economics.conftest import AS_OF, build_base
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

MAX_RETRIES = RETRY_OPTIONS["max_retries"]
TASKS = [economics_tasks.run_economics_task, import_tasks.validate_import, import_tasks.run_import]


@pytest.fixture
def base(db):
    return build_base(n=300, seed=5)


@pytest.fixture
def previous(base):
    """A good run, current before the run under test."""
    return services.run_execute(services.run_request(as_of=AS_OF, enqueue=False).pk)


def failing(real, *, errors):
    """``real``, raising the next of ``errors`` on each call until they are used up."""
    calls = []

    def call(*args, **kwargs):
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return real(*args, **kwargs)

    call.calls = calls
    return call


@pytest.fixture
def retrying_tasks():
    """Tasks in-process, a retry run at once, a failure kept in the task's result."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager, app.conf.task_eager_propagates = True, False
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture
def countdowns(monkeypatch):
    """The countdown of every retry the tasks ask Celery for."""
    asked: list = []
    for task in TASKS:
        real = task.retry

        def retry(*args, real=real, **kwargs):
            asked.append(kwargs.get("countdown"))
            return real(*args, **kwargs)

        monkeypatch.setattr(task, "retry", retry)
    return asked


def request_run(capture):
    with capture(execute=True):
        return services.run_request(as_of=AS_OF)


def test_the_retry_policy_has_backoff_jitter_and_a_limit():
    assert set(TRANSIENT_ERRORS) == {
        OperationalError, InterfaceError, BrokerOperationalError, RedisConnectionError,
        RedisTimeoutError,
    }  # fmt: skip
    assert not issubclass(ValueError, TRANSIENT_ERRORS)
    assert not issubclass(RuntimeError, TRANSIENT_ERRORS)
    for task in TASKS:
        assert isinstance(task, RetryingTask), task.name
        assert tuple(task.autoretry_for) == TRANSIENT_ERRORS, task.name
        assert task.max_retries == 5
        assert task.retry_backoff == 10
        assert task.retry_backoff_max == 300
        assert task.retry_jitter is True
        assert task.acks_late is True


def test_a_lost_database_connection_is_retried_and_the_run_succeeds(
    base, monkeypatch, retrying_tasks, django_capture_on_commit_callbacks, countdowns
):
    load = failing(
        services.load_run_inputs, errors=[OperationalError("server closed the connection")]
    )
    monkeypatch.setattr(services, "load_run_inputs", load)
    between = []
    real_requeue = services._run_requeue

    def requeue(run_id, exc):
        done = real_requeue(run_id, exc)
        fields = ["status", "stage", "attempts", "error", "claimed_by", "active"]
        between.append(EconomicsRun.objects.values(*fields).get(pk=run_id))
        return done

    monkeypatch.setattr(services, "_run_requeue", requeue)

    run = request_run(django_capture_on_commit_callbacks)

    run.refresh_from_db()
    assert run.status == EconomicsRun.Status.SUCCEEDED, run.error
    assert run.attempts == 2
    assert len(load.calls) == 2
    assert current_run() == run
    assert CustomerScore.objects.filter(run=run).count() == len(base)
    assert run.error == ""
    # Between the attempts the run was queued again, saying why, its attempt counted.
    [waiting] = between
    assert waiting["status"] == EconomicsRun.Status.QUEUED and waiting["active"] is True
    assert "retrying" in waiting["stage"]
    assert "OperationalError" in waiting["error"] and "retrying" in waiting["error"]
    assert waiting["attempts"] == 1 and waiting["claimed_by"] == ""
    # The retry asked for a backoff with full jitter: between 0 and retry_backoff s.
    assert len(countdowns) == 1
    assert 0 <= countdowns[0] <= RETRY_OPTIONS["retry_backoff"]


def test_a_bad_fit_fails_at_once_without_a_retry(
    previous, monkeypatch, retrying_tasks, django_capture_on_commit_callbacks, countdowns
):
    load = failing(services.load_run_inputs, errors=[ValueError("the model does not fit")])
    monkeypatch.setattr(services, "load_run_inputs", load)

    request_run(django_capture_on_commit_callbacks)

    run = EconomicsRun.objects.exclude(pk=previous.pk).get()
    assert run.status == EconomicsRun.Status.FAILED
    assert run.attempts == 1 and len(load.calls) == 1
    assert countdowns == []
    assert "does not fit" in run.error
    assert current_run() == previous


def test_a_lasting_outage_fails_the_run_after_the_last_retry(
    previous, monkeypatch, retrying_tasks, django_capture_on_commit_callbacks, countdowns
):
    outage = [OperationalError("could not connect to server")] * (MAX_RETRIES + 5)
    load = failing(services.load_run_inputs, errors=outage)
    monkeypatch.setattr(services, "load_run_inputs", load)

    request_run(django_capture_on_commit_callbacks)

    run = EconomicsRun.objects.exclude(pk=previous.pk).get()
    assert run.status == EconomicsRun.Status.FAILED and run.active is None
    assert run.attempts == MAX_RETRIES + 1
    assert len(load.calls) == MAX_RETRIES + 1
    assert "OperationalError: could not connect" in run.error
    assert current_run() == previous
    assert not CustomerScore.objects.filter(run=run).exists()
    # Each retry waited longer, at most: 10 s, 20 s, 40 s … (before jitter), capped.
    assert len(countdowns) == MAX_RETRIES + 1  # the last one asks, and is refused
    for n, countdown in enumerate(countdowns[:MAX_RETRIES]):
        cap = min(RETRY_OPTIONS["retry_backoff"] * 2**n, RETRY_OPTIONS["retry_backoff_max"])
        assert 0 <= countdown <= cap


def test_a_broker_error_is_transient_too(
    base, monkeypatch, retrying_tasks, django_capture_on_commit_callbacks
):
    load = failing(
        services.load_run_inputs,
        errors=[RedisConnectionError("Connection refused"), InterfaceError("connection closed")],
    )
    monkeypatch.setattr(services, "load_run_inputs", load)

    run = request_run(django_capture_on_commit_callbacks)

    run.refresh_from_db()
    assert run.status == EconomicsRun.Status.SUCCEEDED, run.error
    assert run.attempts == 3


def test_a_run_computed_without_a_task_is_not_retried(previous, monkeypatch):
    load = failing(services.load_run_inputs, errors=[OperationalError("gone")])
    monkeypatch.setattr(services, "load_run_inputs", load)
    queued = services.run_request(as_of=AS_OF, enqueue=False)
    with pytest.raises(OperationalError):
        services.run_execute(queued.pk)  # the command line: no task, no retry
    queued.refresh_from_db()
    assert queued.status == EconomicsRun.Status.FAILED
    assert current_run() == previous


def test_a_task_called_as_a_function_does_not_retry():
    assert will_retry(economics_tasks.run_economics_task) is False


def test_in_process_tasks_that_raise_to_their_caller_fail_the_run_at_once(
    previous, monkeypatch, eager_tasks, django_capture_on_commit_callbacks
):
    """Without a broker errors reach the caller, and Celery would hand the retry to it
    as an exception: the run is failed at once rather than left queued for a retry that
    never comes (it would block every next run)."""
    load = failing(services.load_run_inputs, errors=[OperationalError("database is locked")])
    monkeypatch.setattr(services, "load_run_inputs", load)

    with pytest.raises(OperationalError, match="locked"):
        request_run(django_capture_on_commit_callbacks)

    run = EconomicsRun.objects.exclude(pk=previous.pk).get()
    assert run.status == EconomicsRun.Status.FAILED and run.active is None
    assert run.attempts == 1
    assert current_run() == previous


# --- imports ------------------------------------------------------------------------

ORDERS = b"external_id,customer,date,revenue,cost\nO1,C1,2024-02-01,1000.00,600.00\n" \
         b"O2,C1,2024-03-01,250.50,\n"  # fmt: skip


@pytest.fixture
def validated(integrator):
    CustomerFactory(external_id="C1")
    job = import_services.import_job_create(
        kind="orders", upload=SimpleUploadedFile("orders.csv", ORDERS),
        create_missing_customers=False, user=integrator,
    )  # fmt: skip
    assert job.status == ImportJob.Status.VALIDATED
    return job


def test_an_import_interrupted_by_a_lost_connection_is_retried_and_writes_once(
    validated, integrator, monkeypatch, retrying_tasks, django_capture_on_commit_callbacks
):
    engine = failing(import_services._run_engine, errors=[OperationalError("connection lost")])
    monkeypatch.setattr(import_services, "_run_engine", engine)
    between = []
    real_requeue = import_services._job_requeue

    def requeue(job_id, exc, **kwargs):
        done = real_requeue(job_id, exc, **kwargs)
        fields = ["status", "progress_stage", "message"]
        between.append(ImportJob.objects.values(*fields).get(pk=job_id))
        return done

    monkeypatch.setattr(import_services, "_job_requeue", requeue)

    with django_capture_on_commit_callbacks(execute=True):
        import_services.import_job_confirm(job=validated, user=integrator)

    validated.refresh_from_db()
    assert validated.status == ImportJob.Status.SUCCEEDED
    assert validated.created_count == 2 and Order.objects.count() == 2
    assert len(engine.calls) == 2
    [waiting] = between
    assert waiting["status"] == ImportJob.Status.IMPORTING
    assert waiting["progress_stage"] == import_services.RETRYING
    assert "tried again" in waiting["message"]


def test_a_validation_interrupted_by_a_lost_connection_is_retried(
    integrator, monkeypatch, settings, retrying_tasks, django_capture_on_commit_callbacks
):
    settings.IMPORTS_INLINE_VALIDATION_BYTES = 0  # validated by the task
    CustomerFactory(external_id="C1")
    engine = failing(import_services._run_engine, errors=[OperationalError("connection lost")])
    monkeypatch.setattr(import_services, "_run_engine", engine)

    with django_capture_on_commit_callbacks(execute=True):
        job = import_services.import_job_create(
            kind="orders", upload=SimpleUploadedFile("orders.csv", ORDERS),
            create_missing_customers=False, user=integrator,
        )  # fmt: skip

    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED
    assert job.rows == 2 and len(engine.calls) == 2
    assert not Order.objects.exists()


def test_an_import_with_a_bug_fails_at_once_and_writes_nothing(
    validated, integrator, monkeypatch, retrying_tasks, django_capture_on_commit_callbacks
):
    engine = failing(import_services._run_engine, errors=[KeyError("revenue")])
    monkeypatch.setattr(import_services, "_run_engine", engine)

    with django_capture_on_commit_callbacks(execute=True):
        import_services.import_job_confirm(job=validated, user=integrator)

    validated.refresh_from_db()
    assert validated.status == ImportJob.Status.FAILED
    assert "KeyError" in validated.message
    assert len(engine.calls) == 1
    assert not Order.objects.exists()


def test_an_import_failing_past_the_last_retry_is_failed(
    validated, integrator, monkeypatch, retrying_tasks, django_capture_on_commit_callbacks
):
    engine = failing(
        import_services._run_engine, errors=[OperationalError("down")] * (MAX_RETRIES + 5)
    )
    monkeypatch.setattr(import_services, "_run_engine", engine)

    with django_capture_on_commit_callbacks(execute=True):
        import_services.import_job_confirm(job=validated, user=integrator)

    validated.refresh_from_db()
    assert validated.status == ImportJob.Status.FAILED
    assert len(engine.calls) == MAX_RETRIES + 1
    assert not Order.objects.exists()
