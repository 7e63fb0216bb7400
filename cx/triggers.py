"""The database triggers behind ``WorklistChange``: every statement that writes the
customers, the flags or the cases is recorded, whoever runs it (the ORM, an import's
``INSERT … ON CONFLICT``, a run's flag sync, the admin, a shell).

PostgreSQL fires one trigger per statement, and the trigger adds a row: concurrent
transactions never wait on one another's record (a single row per table, updated, would
be held by every open transaction that wrote the table until it ends, and two of them
could deadlock). Now and then (every ``PRUNE_EVERY``-th row) it deletes the rows older
than the last ``PRUNE_EVERY``, skipping any another transaction holds. SQLite has only
row triggers and writes one transaction at a time: there each table keeps one row,
renewed on every written row. Created by ``cx`` migration 0002 and again after every
``migrate`` (SQLite drops a table's triggers when a migration rebuilds the table).
Other databases get no triggers, and the worklist then caches nothing."""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

WATCHED = ("customers_customer", "economics_customerflag", "cx_case")
TABLE = "cx_worklistchange"
FUNCTION = "cx_worklist_changed"
SUPPORTED = ("postgresql", "sqlite")
PRUNE_EVERY = 256
STAMPS = 2**31  # stamps are below this: a sum of many stays an exact integer

# SQL here is safe: every statement is a constant of this module; the only names put in
# are the table names above.

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    added bigint;
BEGIN
    INSERT INTO {changes} (source, changes, stamp)
    VALUES (TG_TABLE_NAME, 1, floor(random() * {stamps})::bigint)
    RETURNING id INTO added;
    IF added % {every} = 0 THEN
        DELETE FROM {changes} WHERE id IN (
            SELECT id FROM {changes} WHERE id <= added - {every}
            FOR UPDATE SKIP LOCKED
        );
    END IF;
    RETURN NULL;
END
$$
"""

_PG_TRIGGER = """
CREATE OR REPLACE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
FOR EACH STATEMENT EXECUTE FUNCTION {function}()
"""

_SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table}
BEGIN
    INSERT INTO {changes} (source, changes, stamp)
    SELECT '{table}', 0, 0 WHERE NOT EXISTS (SELECT 1 FROM {changes} WHERE source = '{table}');
    UPDATE {changes} SET changes = changes + 1, stamp = abs(random() % {stamps})
    WHERE source = '{table}';
END
"""

SQLITE_EVENTS = ("INSERT", "UPDATE", "DELETE")


def _sqlite_name(table: str, event: str) -> str:
    return f"{FUNCTION}_{table}_{event.lower()}"


def statements_create(vendor: str) -> list[str]:
    if vendor == "postgresql":
        function = _PG_FUNCTION.format(
            function=FUNCTION, changes=TABLE, stamps=STAMPS, every=PRUNE_EVERY
        )
        return [function] + [
            _PG_TRIGGER.format(name=FUNCTION, table=table, function=FUNCTION) for table in WATCHED
        ]
    if vendor == "sqlite":
        return [
            _SQLITE_TRIGGER.format(
                name=_sqlite_name(table, event),
                event=event,
                table=table,
                changes=TABLE,
                stamps=STAMPS,
            )
            for table in WATCHED
            for event in SQLITE_EVENTS
        ]
    return []


def statements_drop(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {FUNCTION} ON {table}" for table in WATCHED] + [
            f"DROP FUNCTION IF EXISTS {FUNCTION}()"
        ]
    if vendor == "sqlite":
        return [
            f"DROP TRIGGER IF EXISTS {_sqlite_name(table, event)}"
            for table in WATCHED
            for event in SQLITE_EVENTS
        ]
    return []


def triggers_create(connection: BaseDatabaseWrapper) -> None:
    """Create the triggers (those missing, on SQLite; all, replaced, on PostgreSQL)."""
    with connection.cursor() as cursor:
        for statement in statements_create(connection.vendor):
            cursor.execute(statement)  # safe: a constant statement of this module


def triggers_drop(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in statements_drop(connection.vendor):
            cursor.execute(statement)  # safe: a constant statement of this module


def triggers_present(connection: BaseDatabaseWrapper) -> int:
    """How many of the triggers the database holds (for the checks and the tests)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(  # safe: a constant statement, the name is a parameter
                "SELECT count(*) FROM pg_trigger WHERE tgname = %s AND NOT tgisinternal",
                [FUNCTION],
            )
        elif connection.vendor == "sqlite":
            cursor.execute(  # safe: a constant statement, the pattern is a parameter
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE %s",
                [f"{FUNCTION}%"],
            )
        else:
            return 0
        return cursor.fetchone()[0]


def triggers_expected(vendor: str) -> int:
    if vendor == "postgresql":
        return len(WATCHED)
    if vendor == "sqlite":
        return len(WATCHED) * len(SQLITE_EVENTS)
    return 0
