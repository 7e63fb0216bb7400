"""The score table on PostgreSQL: one partition per run.

A run writes a score row for every customer. Written straight into the shared table, each
row would update six indexes and fire two foreign-key checks, one at a time: at a million
customers that is most of the time a run spends saving. Instead a run writes its rows
into a table of its own, with no index and no key to check (``staging_create``,
``copy_in``), and the table becomes the run's partition of ``economics_customerscore``
when the run is complete (``attach``): PostgreSQL then builds each index in one pass and
checks each key with one join. Until then no query of the score table sees the rows, so
an interrupted run leaves nothing half-written behind. Dropping a run's scores is
dropping its table (``discard``), not deleting a million rows.

Rows that are not written by a run (the scores of runs made before the table was
partitioned, or single rows written through the ORM) live in the default partition.

Other databases have one plain table; every function here then falls back to the ORM.
"""

from __future__ import annotations

import logging

from django.db import DatabaseError, connection, transaction

log = logging.getLogger(__name__)

SCORES = "economics_customerscore"
DEFAULT_PARTITION = f"{SCORES}_default"
# How long dropping a run's partition waits for the queries reading the score table
# (dropping a partition locks its parent for that instant); pruning tries again later.
DROP_LOCK_TIMEOUT = "5s"


def is_partitioned() -> bool:
    """True on PostgreSQL once the score table is partitioned by run (migration 0007)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT relkind FROM pg_class WHERE oid = %s::regclass", [SCORES])  # safe
        row = cursor.fetchone()
    return bool(row) and row[0] == "p"


def partition_name(run_id: int) -> str:
    return f"{SCORES}_run_{int(run_id)}"


def _exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])  # safe: a parameter
        return bool(cursor.fetchone()[0])


def _attached(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(  # safe: constant statement, the names are parameters
            "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = to_regclass(%s) "
            "AND inhparent = %s::regclass)",
            [name, SCORES],
        )
        return bool(cursor.fetchone()[0])


def staging_create(run_id: int) -> str:
    """An empty table for the run's scores, shaped like the score table (its columns,
    defaults and CHECK constraints), ids from the score table's sequence, and a check
    that every row is this run's (so attaching it needs no scan). A table left by an
    earlier attempt of the run is replaced."""
    name = partition_name(run_id)
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        # safe: identifiers built from an integer id and our own table names, quoted
        cursor.execute(f"DROP TABLE IF EXISTS {qn(name)}")  # safe: quoted identifier
        cursor.execute(
            f"CREATE TABLE {qn(name)} (LIKE {qn(SCORES)} "  # safe: quoted identifiers
            "INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(  # safe: quoted identifiers; the sequence's name is a parameter
            f"ALTER TABLE {qn(name)} ALTER COLUMN id SET DEFAULT "
            "nextval(pg_get_serial_sequence(%s, 'id')::regclass)",
            [SCORES],
        )
        cursor.execute(  # safe: quoted identifiers and an integer
            f"ALTER TABLE {qn(name)} ADD CONSTRAINT {qn(name + '_run')} "
            f"CHECK (run_id = {int(run_id)})"
        )
    return name


def staging_ready(run_id: int) -> str:
    """The run's table, created when it does not exist yet."""
    name = partition_name(run_id)
    return name if _exists(name) else staging_create(run_id)


def delete_range(run_id: int, first: int, last: int) -> None:
    """Remove the run's rows for customers ``first``..``last`` (a chunk written again)."""
    from .models import CustomerScore

    if not is_partitioned():
        CustomerScore.objects.filter(
            run_id=run_id, customer_id__gte=first, customer_id__lte=last
        ).delete()
        return
    name = partition_name(run_id)
    if not _exists(name):
        return
    with connection.cursor() as cursor:
        cursor.execute(  # safe: a quoted identifier; the bounds are parameters
            f"DELETE FROM {connection.ops.quote_name(name)} "  # noqa: S608  # nosec B608
            "WHERE customer_id BETWEEN %s AND %s",
            [first, last],
        )


def row_count(run_id: int) -> int:
    """How many score rows the run has written so far, attached or not."""
    from .models import CustomerScore

    name = partition_name(run_id)
    if is_partitioned() and _exists(name) and not _attached(name):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(name)}")  # noqa: S608  # nosec B608 # safe: a quoted identifier
            return int(cursor.fetchone()[0])
    return CustomerScore.objects.filter(run_id=run_id).count()


def attach(run_id: int) -> None:
    """Make the run's table its partition of the score table: its indexes are built and
    its keys checked here, set-based. Attaching takes no lock that stops reading or
    writing the score table. Does nothing when it is attached already."""
    name = partition_name(run_id)
    if not is_partitioned() or not _exists(name) or _attached(name):
        return
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(  # safe: quoted identifiers and an integer
            f"ALTER TABLE {qn(SCORES)} ATTACH PARTITION {qn(name)} FOR VALUES IN ({int(run_id)})"
        )


def analyze(run_id: int | None = None) -> None:
    """Fresh planner statistics after a run's rows arrive: the run's partition alone
    when it has one, else the whole table."""
    if connection.vendor != "postgresql":
        return
    name = partition_name(run_id) if run_id is not None else None
    target = name if name and is_partitioned() and _exists(name) else SCORES
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(target)}")  # safe: quoted


def discard(run_id: int) -> bool:
    """Remove every score of the run: its partition or table dropped, and any row of it
    in the default partition deleted. False when the partition could not be dropped
    within ``DROP_LOCK_TIMEOUT`` (long queries reading the scores); it is left for
    later and the run's rows stay as they were."""
    from .models import CustomerScore

    if is_partitioned():
        name = partition_name(run_id)
        if _exists(name):
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(  # safe: a constant setting
                        f"SET LOCAL lock_timeout = '{DROP_LOCK_TIMEOUT}'"
                    )
                    # Key checks this transaction still owes are made now: a table with
                    # pending checks cannot be dropped.
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # safe: a constant
                    cursor.execute(f"DROP TABLE {connection.ops.quote_name(name)}")  # safe
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # safe: a constant
            except DatabaseError:
                log.warning("The scores of run %s could not be dropped now", run_id)
                return False
    CustomerScore.objects.filter(run_id=run_id).delete()
    return True
