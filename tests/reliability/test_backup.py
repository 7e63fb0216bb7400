"""A backup restores: the database is dumped, restored into a scratch database, and every
table holds the same number of rows there (docs/backup.md). On PostgreSQL with
``pg_dump -Fc`` / ``pg_restore --no-owner``, as the procedure says; on SQLite with the
sqlite3 backup API, its equivalent."""

from __future__ import annotations

import glob
import os
import shutil
import sqlite3
import subprocess
import uuid
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connection

from customers.demo import demo_seed
from economics import services

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = {c.label for c in apps.get_app_configs() if Path(c.path).parent == ROOT}


def project_tables() -> set[str]:
    return {
        model._meta.db_table
        for label in PROJECT_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    }


def counts_here() -> dict[str, int]:
    """Rows per table of the live database, every table it has."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        counts = {}
        for table in tables:
            # safe: the table names come from the database's own catalogue, quoted
            cursor.execute(f"SELECT COUNT(*) FROM {quote(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def counts_in(cursor, tables) -> dict[str, int]:
    counts = {}
    for table in tables:
        # safe: the table names come from the live database's catalogue, quoted
        cursor.execute(f'SELECT COUNT(*) FROM "{table}"')  # noqa: S608
        counts[table] = cursor.fetchone()[0]
    return counts


def postgres_tool(name: str) -> str:
    """A PostgreSQL client tool: on PATH, else the newest under /usr/lib/postgresql."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    assert found, f"{name} is installed with the PostgreSQL client tools"
    return found


def restored_counts_postgres(tmp_path: Path, tables) -> dict[str, int]:
    import psycopg

    s = connection.settings_dict
    host, port, user = s.get("HOST") or "127.0.0.1", str(s.get("PORT") or 5432), s.get("USER")
    env = {**os.environ, "PGPASSWORD": s.get("PASSWORD") or ""}
    server = ["-h", host, "-p", port, *(["-U", user] if user else [])]
    dump = tmp_path / "tango.dump"
    subprocess.run(  # noqa: S603 — the client tools, with the test database's settings
        [postgres_tool("pg_dump"), *server, "-Fc", "-f", str(dump), s["NAME"]],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    assert dump.stat().st_size > 0
    scratch = f"tango_restore_{uuid.uuid4().hex[:12]}"
    with connection.cursor() as cursor:
        # safe: the scratch name is made here of hex digits
        cursor.execute(f'CREATE DATABASE "{scratch}"')
    try:
        subprocess.run(  # noqa: S603 — the client tools, into the scratch database
            [postgres_tool("pg_restore"), *server, "--no-owner", "--exit-on-error",
             "-d", scratch, str(dump)],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        with (
            psycopg.connect(
                host=host, port=port, user=user, password=s.get("PASSWORD"), dbname=scratch
            ) as restored,
            restored.cursor() as cursor,
        ):
            cursor.execute(  # safe: a constant statement
                "SELECT tablename FROM pg_tables t WHERE schemaname = 'public' AND NOT "
                "EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = "
                "format('%I.%I', t.schemaname, t.tablename)::regclass)"
            )  # the partitions of the score table are counted in it
            assert {row[0] for row in cursor.fetchall()} == set(tables)
            return counts_in(cursor, tables)
    finally:
        with connection.cursor() as cursor:
            # safe: the scratch name is made here of hex digits
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def restored_counts_sqlite(tmp_path: Path, tables) -> dict[str, int]:
    """The same on SQLite: the backup API copies the live database into a file (the
    dump), and the file into a fresh database (the restore)."""
    connection.ensure_connection()
    dump_path = tmp_path / "tango.sqlite3"
    with sqlite3.connect(dump_path) as dump:
        connection.connection.backup(dump)
    dump.close()
    assert dump_path.stat().st_size > 0
    restored = sqlite3.connect(":memory:")
    try:
        with sqlite3.connect(dump_path) as source:
            source.backup(restored)
        source.close()
        names = {
            row[0]
            for row in restored.execute(  # safe: a constant statement
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        }
        assert names == set(tables)
        return counts_in(restored.cursor(), tables)
    finally:
        restored.close()


def test_a_dump_restores_with_the_same_rows_in_every_table(tmp_path):
    demo_seed(customers=40, seed=11)
    run = services.run_request(enqueue=False)
    services.run_execute(run.pk)
    before = counts_here()
    assert project_tables() <= set(before), "every model of the project has its table"
    for table in ("customers_customer", "customers_order", "economics_customerscore",
                  "economics_economicsrun", "roles_charter", "audit_auditevent"):  # fmt: skip
        assert before[table] > 0, f"{table} has rows to back up"

    if connection.vendor == "postgresql":
        after = restored_counts_postgres(tmp_path, before)
    else:
        after = restored_counts_sqlite(tmp_path, before)

    assert after == before
