"""The score table partitioned by run (PostgreSQL; other databases keep one plain table and
the same functions fall back to the ORM)."""

import importlib
from types import SimpleNamespace

import pandas as pd
import pytest
from django.apps import apps as global_apps
from django.db import connection

from economics import partitions, services
from economics.models import CustomerScore, EconomicsRun
from tests.factories import CustomerFactory

from .conftest import AS_OF

pytestmark = pytest.mark.django_db
migration = importlib.import_module("economics.migrations.0007_scores_partitioned_by_run")


def _partition_of(run_id: int) -> str | None:
    """The table holding the run's rows, as PostgreSQL routes them."""
    with connection.cursor() as cursor:
        cursor.execute(  # safe: a constant statement, the run id is a parameter
            "SELECT DISTINCT tableoid::regclass::text FROM economics_customerscore "
            "WHERE run_id = %s",
            [run_id],
        )
        rows = cursor.fetchall()
    assert len(rows) <= 1
    return rows[0][0] if rows else None


def _run() -> EconomicsRun:
    queued = services.run_request(as_of=AS_OF, enqueue=False)
    return services.run_execute(queued.pk)


def _score(run: EconomicsRun, customer) -> CustomerScore:
    return CustomerScore.objects.create(run=run, customer=customer, klass="keep")


def test_the_score_table_is_partitioned_on_postgresql_only():
    assert partitions.is_partitioned() == (connection.vendor == "postgresql")


def test_a_run_writes_its_scores_into_a_partition_of_its_own(simulated_base):
    run = _run()
    assert run.status == "succeeded"
    assert CustomerScore.objects.filter(run=run).count() == len(simulated_base)
    if connection.vendor == "postgresql":
        assert _partition_of(run.pk) == partitions.partition_name(run.pk)
    # An earlier run's rows stay where they are; the new run has a table of its own.
    second = _run()
    assert CustomerScore.objects.filter(run=second).count() == len(simulated_base)
    assert CustomerScore.objects.filter(run=run).count() == len(simulated_base)
    if connection.vendor == "postgresql":
        assert _partition_of(second.pk) == partitions.partition_name(second.pk)


def test_rows_written_one_by_one_go_to_the_default_partition():
    run = EconomicsRun.objects.create(as_of=AS_OF)
    score = _score(run, CustomerFactory())
    assert CustomerScore.objects.get(pk=score.pk).run_id == run.pk
    if connection.vendor == "postgresql":
        assert _partition_of(run.pk) == partitions.DEFAULT_PARTITION


def _copy_rows(name: str, source_run: int, run: int) -> None:
    """The rows of ``source_run`` written into the table ``name`` as ``run``'s."""
    columns = [
        f.column for f in CustomerScore._meta.concrete_fields if f.column not in ("id", "run_id")
    ]
    listed = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(  # safe: quoted identifiers of our own; the run ids are parameters
            f'INSERT INTO "{name}" (run_id, {listed}) SELECT %s, {listed} '  # noqa: S608
            "FROM economics_customerscore WHERE run_id = %s",
            [run, source_run],
        )


def test_an_unattached_table_is_invisible_until_attached():
    source = EconomicsRun.objects.create(as_of=AS_OF, status="failed", active=None)
    customers = sorted(_score(source, CustomerFactory()).customer_id for _ in range(3))
    run = EconomicsRun.objects.create(as_of=AS_OF)
    if connection.vendor != "postgresql":  # one plain table: the rows are where written
        CustomerScore.objects.filter(run=source).update(run=run)
        assert partitions.row_count(run.pk) == 3
        return
    name = partitions.staging_create(run.pk)
    _copy_rows(name, source.pk, run.pk)
    assert partitions.row_count(run.pk) == 3
    assert not CustomerScore.objects.filter(run=run).exists()
    partitions.attach(run.pk)
    partitions.attach(run.pk)  # again: nothing to do
    assert sorted(CustomerScore.objects.filter(run=run).values_list("customer_id", flat=True)) == (
        customers
    )
    assert _partition_of(run.pk) == name


def test_a_partition_refuses_another_runs_rows():
    if connection.vendor != "postgresql":
        assert not partitions.is_partitioned()
        return
    from django.db import IntegrityError, transaction

    source = EconomicsRun.objects.create(as_of=AS_OF, status="failed", active=None)
    _score(source, CustomerFactory())
    run = EconomicsRun.objects.create(as_of=AS_OF)
    name = partitions.staging_create(run.pk)
    with pytest.raises(IntegrityError, match="_run"), transaction.atomic():
        _copy_rows(name, source.pk, run.pk + 1)


def test_discarding_a_run_removes_its_scores_and_its_table(simulated_base):
    run = _run()
    keep = _run()
    stray = _score(run, CustomerFactory())  # a row in the default partition too
    assert partitions.discard(run.pk)
    assert not CustomerScore.objects.filter(run=run).exists()
    assert not CustomerScore.objects.filter(pk=stray.pk).exists()
    assert CustomerScore.objects.filter(run=keep).count() == len(simulated_base)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", [partitions.partition_name(run.pk)])  # safe
            assert cursor.fetchone()[0] is None


def test_pruning_drops_the_old_runs_tables(simulated_base, admin_user):
    services.cost_model_update(user=admin_user, runs_kept=2)
    runs = [_run() for _ in range(3)]
    assert not EconomicsRun.objects.filter(pk=runs[0].pk).exists()
    assert not CustomerScore.objects.filter(run_id=runs[0].pk).exists()
    assert CustomerScore.objects.filter(run=runs[2]).count() == len(simulated_base)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT to_regclass(%s)", [partitions.partition_name(runs[0].pk)]
            )  # safe
            assert cursor.fetchone()[0] is None


def _migrate(step) -> None:
    if connection.vendor != "postgresql":  # nothing to move: the step does nothing
        step(global_apps, SimpleNamespace(connection=connection))
        return
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # safe: the checks owed, made now
    with connection.schema_editor() as editor:
        step(global_apps, editor)


def test_the_migration_moves_the_rows_out_and_back(simulated_base):
    run = _run()
    stray = _score(
        EconomicsRun.objects.create(as_of=AS_OF, status="failed", active=None), CustomerFactory()
    )
    before = sorted(CustomerScore.objects.values_list("pk", "run_id", "customer_id", "clv"))
    _migrate(migration.unpartition)
    assert not partitions.is_partitioned()
    assert sorted(CustomerScore.objects.values_list("pk", "run_id", "customer_id", "clv")) == before
    _migrate(migration.partition)
    assert partitions.is_partitioned() == (connection.vendor == "postgresql")
    assert sorted(CustomerScore.objects.values_list("pk", "run_id", "customer_id", "clv")) == before
    # New rows take ids after the old ones, and a new run gets its own table again.
    assert _score(run, CustomerFactory()).pk > stray.pk
    again = _run()
    assert CustomerScore.objects.filter(run=again).count() == len(simulated_base) + 2


@pytest.mark.django_db(transaction=True)
def test_scores_sent_on_two_connections_are_those_of_one(simulated_base, monkeypatch):
    """Outside a transaction a run's scores go to its table in slices, each on its own
    connection: the rows are those a single write gives."""
    from economics import bulk

    run = _run()
    stored = CustomerScore.objects.filter(run=run).order_by("customer_id")
    expected = list(stored.values_list("customer_id", "clv", "klass", "flags", "p_alive"))
    frame = pd.DataFrame.from_records(  # the engine's frame, as the stored rows give it
        list(stored.values()), index="customer_id"
    ).drop(columns=["id", "run_id"])
    again = EconomicsRun.objects.create(as_of=AS_OF)
    monkeypatch.setattr(bulk, "PARALLEL_COPY_ROWS", 1)
    sent = []
    monkeypatch.setattr(bulk, "_copy_in", _counting(bulk._copy_in, sent))
    assert bulk.scores_write(again.pk, frame) == len(simulated_base)
    rewritten = CustomerScore.objects.filter(run=again).order_by("customer_id")
    assert list(rewritten.values_list("customer_id", "clv", "klass", "flags", "p_alive")) == (
        expected
    )
    assert len(sent) == (bulk.COPY_CONNECTIONS if partitions.is_partitioned() else 0)
    assert sum(sent) == (len(simulated_base) if partitions.is_partitioned() else 0)


def _counting(copy_in, sent: list):
    def counted(table, columns, frame):
        sent.append(len(frame))
        return copy_in(table, columns, frame)

    return counted
