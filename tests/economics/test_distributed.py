"""A run split across workers: fitted once, scored in chunks (a chord), published once,
with every customer's scores those of a run in one process."""

import time

import pytest
from django.forms.models import model_to_dict

from economics import distributed, partitions, services
from economics.models import CustomerFlag, CustomerScore, EconomicsRun
from economics.selectors import current_run
from tests.economics.conftest import AS_OF, build_base

SKIP = {"id", "run"}


def _scores(run: EconomicsRun) -> dict[int, dict]:
    return {
        s.customer_id: {k: v for k, v in model_to_dict(s).items() if k not in SKIP}
        for s in CustomerScore.objects.filter(run=run)
    }


def _wait(run: EconomicsRun, seconds: float = 120) -> EconomicsRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.active is None:
            return run
        time.sleep(0.3)
    return run


def test_chunks_cover_every_customer_once():
    ranges = distributed.chunk_ranges([9, 3, 4, 20, 21, 22, 30], 3)
    assert ranges == [(3, 9), (20, 22), (30, 30)]
    assert distributed.chunk_ranges([], 3) == []


@pytest.mark.django_db
def test_a_negative_chunk_size_is_refused():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="at least one customer"):
        services.run_request(as_of=AS_OF, chunk_customers=-1, enqueue=False)


@pytest.mark.django_db
def test_a_split_run_scores_every_customer_as_one_process_does(
    eager_tasks, django_capture_on_commit_callbacks
):
    ids = build_base(n=400, seed=5)
    whole = services.run_request(as_of=AS_OF, chunk_customers=0, enqueue=False)
    services.run_execute(whole.pk, distribute=True)  # 0: never split
    whole.refresh_from_db()
    assert whole.status == "succeeded" and "slowest chunk" not in whole.timings
    flags_whole = set(CustomerFlag.objects.filter(status="open").values_list("customer", "kind"))

    with django_capture_on_commit_callbacks(execute=True):  # the task, run in-process
        split = services.run_request(as_of=AS_OF, chunk_customers=150)
    split.refresh_from_db()
    assert split.status == "succeeded", split.error
    assert current_run() == split
    assert "slowest chunk" in split.timings and split.progress == 100
    a, b = _scores(whole), _scores(split)
    assert sorted(b) == sorted(ids)  # three chunks: every customer once
    assert a == b  # every column of every customer
    assert split.model == whole.model
    for key in ("customers", "classes", "flags", "complaints_last_year", "unprofitable_share"):
        assert split.kpis[key] == whole.kpis[key], key
    for key in ("total_clv", "total_profit", "retention_spend_last_year"):
        # from scores stored to the cent, against the unrounded figures of one process
        assert split.kpis[key] == pytest.approx(whole.kpis[key], abs=0.01 * len(ids))
    flags_split = set(CustomerFlag.objects.filter(status="open").values_list("customer", "kind"))
    assert flags_split == flags_whole
    # The same flags: the whole run's stay open, none closed, none opened again.
    assert not CustomerFlag.objects.filter(closed_by=split).exists()
    assert not CustomerFlag.objects.filter(status="open").exclude(raised_by=whole).exists()


@pytest.mark.django_db
def test_a_failing_chunk_fails_the_run_and_the_previous_one_stays(
    eager_tasks, monkeypatch, django_capture_on_commit_callbacks
):
    build_base(n=300, seed=6)
    first = services.run_request(as_of=AS_OF, chunk_customers=0, enqueue=False)
    services.run_execute(first.pk)
    calls = []

    def broken(run_id, first_id, last_id, prepared):
        calls.append(first_id)
        if len(calls) == 2:
            raise ValueError("a chunk that cannot be scored")
        return real(run_id, first_id, last_id, prepared)

    real = distributed.run_score_chunk
    monkeypatch.setattr(distributed, "run_score_chunk", broken)
    with (
        pytest.raises(ValueError, match="cannot be scored"),  # raised to the caller
        django_capture_on_commit_callbacks(execute=True),
    ):
        split = services.run_request(as_of=AS_OF, chunk_customers=100)
    split = EconomicsRun.objects.latest("pk")
    assert split.status == "failed" and "cannot be scored" in split.error
    assert current_run() == first
    assert not CustomerScore.objects.filter(run=split).exists()


@pytest.mark.django_db
def test_a_chunk_delivered_twice_writes_its_rows_once(eager_tasks):
    ids = build_base(n=200, seed=8)
    run = services.run_request(as_of=AS_OF, chunk_customers=100, enqueue=False)
    assert services.run_claim(run.pk)
    run.refresh_from_db()
    prepared, ranges = distributed.run_prepare(run)
    assert len(ranges) == 2 and prepared["chunks"] == 2
    first, last = ranges[0]
    distributed.run_score_chunk(run.pk, first, last, prepared)
    distributed.run_score_chunk(run.pk, first, last, prepared)
    assert partitions.row_count(run.pk) == 100
    distributed.run_score_chunk(run.pk, *ranges[1], prepared)
    assert partitions.row_count(run.pk) == 200
    if partitions.is_partitioned():  # in the run's own table until the last step
        assert not CustomerScore.objects.filter(run=run).exists()
    run.refresh_from_db()
    assert run.status == "running" and current_run() is None  # nobody sees it yet
    distributed.run_finish(run.pk, [{"customers": 100, "timings": {"load data": 1.0}}], prepared)
    run.refresh_from_db()
    assert run.status == "succeeded" and current_run() == run
    assert sorted(CustomerScore.objects.filter(run=run).values_list("customer", flat=True)) == ids


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_split_run_is_scored_by_the_workers(celery_worker):
    ids = build_base(n=300, seed=4)
    run = _wait(services.run_request(as_of=AS_OF, chunk_customers=120))
    assert run.status == EconomicsRun.Status.SUCCEEDED, run.error
    assert current_run() == run
    assert run.timings["slowest chunk"] > 0
    assert sorted(CustomerScore.objects.filter(run=run).values_list("customer", flat=True)) == ids


@pytest.mark.django_db
def test_the_command_line_needs_a_broker_to_queue_a_run(settings):
    from django.core.management import CommandError, call_command

    settings.CELERY_TASK_ALWAYS_EAGER = True
    with pytest.raises(CommandError, match="needs a broker"):
        call_command("run_economics", "--queue", "--as-of", str(AS_OF))
    assert not EconomicsRun.objects.exists()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_command_line_queues_a_split_run_and_waits_for_it(celery_worker, capsys):
    from django.conf import settings
    from django.core.management import CommandError, call_command

    build_base(n=250, seed=9)
    args = ["run_economics", "--queue", "--chunk-customers", "100", "--as-of", str(AS_OF)]
    if settings.CELERY_TASK_ALWAYS_EAGER:  # no broker: refused, nothing requested
        with pytest.raises(CommandError, match="needs a broker"):
            call_command(*args)
        assert not EconomicsRun.objects.exists()
        return
    call_command(*args)
    run = EconomicsRun.objects.get()
    assert run.status == "succeeded" and run.customers == 250
    assert "slowest chunk" in run.timings  # split across the workers
    assert capsys.readouterr().err.rstrip().endswith("100 %  done")
