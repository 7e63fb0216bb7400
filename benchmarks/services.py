"""The measurements of ``manage.py benchmark``, one function each, on the current
database. Each returns a plain dict that goes into the JSON report as it is.

- ``data_ensure``: enough customers (generated when there are too few).
- ``import_measure``: a generated orders file through the real import path, against a
  plain bulk load of the same file into a bare table (PostgreSQL ``COPY``; on SQLite,
  ``executemany`` inserts); the imported records are deleted afterwards.
- ``economics_measure``: ``run_economics`` end to end in a child process, its wall time,
  peak memory and stages.
- ``clv_measure``: the CLV stage of a run alone, against a pandas ``groupby`` of the same
  orders into per-customer count, first, last and sum.
- ``pages_measure``: the main pages rendered in this process, one after another.
- ``load_measure``: the same pages under concurrent users against gunicorn.
- ``targets_check``: each figure against its target.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import resource
import secrets
import subprocess  # nosec B404 # starts our own interpreter with fixed arguments
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.personas import Persona
from accounts.services import user_upsert_with_persona
from customers.models import Customer, Order
from imports.management.commands.import_benchmark import PREFIX, write_customers, write_orders
from imports.models import ImportJob

from . import load

ORDERS_PER_IMPORTED_CUSTOMER = 50
REFERENCE_TABLE = "benchmark_copy_reference"
COPY_BLOCK = 1 << 20
PAGE_NAMES = {
    "dashboard": "executive dashboard",
    "customer_list": "customer list",
    "customer": "customer page",
    "worklist": "CX worklist",
}


class BenchmarkError(Exception):
    """A measurement cannot be taken; the message says why and what to do."""


# --- small pure helpers ------------------------------------------------------------------


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def best_of(
    function: Callable[[], object],
    repeats: int = 3,
    *,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """The shortest of ``repeats`` timings of ``function()``, in seconds."""
    if repeats < 1:
        raise ValueError("Time at least once.")
    best = float("inf")
    for _ in range(repeats):
        started = clock()
        function()
        best = min(best, clock() - started)
    return best


def rows_per_s(rows: int, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def groupby_reference(orders: pd.DataFrame) -> pd.DataFrame:
    """The plainest per-customer summary of order rows (customer_id, date, revenue,
    cost): number of orders, first and last order date, total margin."""
    return (
        orders.assign(margin=orders["revenue"] - orders["cost"])
        .groupby("customer_id")
        .agg(
            count=("date", "size"),
            first=("date", "min"),
            last=("date", "max"),
            total=("margin", "sum"),
        )
    )


def peak_rss_mb_from_kb(kilobytes: int) -> float:
    """``ru_maxrss`` is in kilobytes on Linux."""
    return kilobytes / 1024


# --- the database as another process reaches it -----------------------------------------


def database_shared() -> bool:
    """Whether another process can open the current database (not an in-memory one)."""
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def database_url_from(settings_dict: dict, vendor: str) -> str:
    """A ``DATABASE_URL`` that opens the database of ``settings_dict``."""
    s = settings_dict
    if vendor == "sqlite":
        name = str(s["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise BenchmarkError(
                "The database is an in-memory SQLite database: no other process can open it."
            )
        return f"sqlite:///{name}"
    if vendor != "postgresql":
        raise BenchmarkError(f"No DATABASE_URL for a {vendor} database.")
    user = quote(str(s.get("USER") or ""), safe="")
    password = f":{quote(str(s['PASSWORD']), safe='')}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = quote(str(s.get("HOST") or "127.0.0.1"), safe="")
    port = s.get("PORT") or 5432
    sslmode = (s.get("OPTIONS") or {}).get("sslmode")
    query = f"?sslmode={quote(str(sslmode))}" if sslmode else ""
    return f"postgres://{auth}{host}:{port}/{quote(str(s['NAME']), safe='')}{query}"


def database_url() -> str:
    """The current database as a ``DATABASE_URL`` for a child process."""
    if not database_shared():
        raise BenchmarkError(
            "The database is an in-memory SQLite database: no other process can open it."
        )
    return database_url_from(connection.settings_dict, connection.vendor)


def child_environment(url: str | None = None) -> dict[str, str]:
    """This process's settings and database (or ``url``), with debugging off, for a
    ``manage.py`` child."""
    # Under override_settings (tests) SETTINGS_MODULE reads None: the environment has it.
    module = settings.SETTINGS_MODULE or os.environ.get("DJANGO_SETTINGS_MODULE")
    if not module:
        raise BenchmarkError("DJANGO_SETTINGS_MODULE is not set.")
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": module,
        "DATABASE_URL": url or database_url(),
        "DEBUG": "false",  # as in production: no query log
    }


# --- data --------------------------------------------------------------------------------


def data_ensure(*, customers: int, seed: int = 7, progress: Callable | None = None) -> dict:
    """At least ``customers`` customers: when there are fewer, the generated data set
    (``customers.dataset``, external ids ``GEN-``) is written with that many."""
    existing = Customer.objects.count()
    if existing >= customers:
        return {
            "existing": existing,
            "generated": 0,
            "seconds": 0.0,
            "action": f"kept the {existing:,} customers in the database",
        }
    try:
        from customers.dataset import DatasetError, dataset_generate
    except ImportError as exc:
        raise BenchmarkError(
            f"The database holds {existing:,} customers, fewer than {customers:,}, and the "
            "data set generator (customers.dataset) is not available: fill the database "
            f"first, e.g. `manage.py seed_demo --customers {customers}`."
        ) from exc
    started = time.perf_counter()
    try:
        dataset_generate(customers=customers, seed=seed, replace=True, progress=progress)
    except DatasetError as exc:
        raise BenchmarkError(f"The data set could not be generated: {exc}") from exc
    seconds = time.perf_counter() - started
    return {
        "existing": existing,
        "generated": customers,
        "seconds": round(seconds, 1),
        "action": f"generated {customers:,} customers (seed {seed}) in {seconds:,.0f} s; "
        f"the database held {existing:,}",
    }


# --- import against a bulk load ----------------------------------------------------------


def _import(kind: str, path: Path) -> None:
    from imports import services as imports

    result = imports.import_run(
        kind=kind, source=str(path), origin=ImportJob.Origin.CLI, keep_errors=20
    )
    try:
        if not result.ok:
            raise BenchmarkError(f"The {kind} file was rejected: {result.summary} "
                                 f"{result.errors[:5]}")  # fmt: skip
    finally:
        result.close()


def import_cleanup() -> dict:
    """Delete what the import made (orders and customers with ``BENCH-`` ids)."""
    with transaction.atomic():
        orders, _ = Order.objects.filter(external_id__startswith=PREFIX).delete()
        customers, _ = Customer.objects.filter(external_id__startswith=PREFIX).delete()
    return {"deleted_rows": orders + customers}


def _reference_columns() -> str:
    if connection.vendor == "postgresql":
        money, day = "numeric(14, 2)", "date"
    else:
        money, day = "decimal(14, 2)", "date"
    return (
        f"external_id text, customer text, date {day}, revenue {money}, cost {money}, "
        "category text, kind text"
    )


def _bare_table_load(cursor, path: Path) -> tuple[str, float]:
    """The orders file into the bare table (created empty): how, and in how long."""
    started = time.perf_counter()
    if connection.vendor == "postgresql":
        method = "COPY FROM STDIN (csv)"
        statement = f"COPY {REFERENCE_TABLE} FROM STDIN WITH (FORMAT csv, HEADER true)"
        with path.open("rb") as handle, cursor.copy(statement) as copy:
            while block := handle.read(COPY_BLOCK):
                copy.write(block)
    else:
        method = "executemany (sqlite)"
        # A constant table name; every value is a parameter.
        insert = f"INSERT INTO {REFERENCE_TABLE} VALUES ({', '.join(['%s'] * 7)})"  # noqa: S608  # nosec B608 # constant
        with transaction.atomic(), path.open(newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            next(reader)
            while batch := [row for _, row in zip(range(10_000), reader, strict=False)]:
                cursor.executemany(insert, batch)  # safe: a constant statement
    return method, time.perf_counter() - started


def _bare_table(cursor) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {REFERENCE_TABLE}")  # safe: a constant name
    cursor.execute(f"CREATE TABLE {REFERENCE_TABLE} ({_reference_columns()})")  # safe: constant


def copy_reference(path: Path) -> dict:
    """A plain bulk load of the orders file into a bare table (typed columns, no keys,
    no indexes), dropped afterwards. PostgreSQL: ``COPY … FROM STDIN`` fed in 1 MB
    blocks; SQLite: ``executemany`` inserts in one transaction."""
    with connection.cursor() as cursor:
        _bare_table(cursor)
        try:
            method, seconds = _bare_table_load(cursor, path)
            cursor.execute(f"SELECT COUNT(*) FROM {REFERENCE_TABLE}")  # noqa: S608  # nosec B608 # safe: a constant name
            rows = cursor.fetchone()[0]
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {REFERENCE_TABLE}")  # safe: a constant name
    return {"copy_method": method, "copy_rows": rows, "copy_s": round(seconds, 3)}


def insert_floor(path: Path) -> dict:
    """The least any import of the orders file must spend writing it, however little it
    checks: the file's rows, loaded into the bare table, put into the orders table by one
    ``INSERT … SELECT`` (customers found by their external id; no validation, no
    upsert), then rolled back. What it costs beyond the bare load is the orders table's
    indexes and keys. The file's customers must exist and its orders must not."""
    order, customer = Order._meta.db_table, Customer._meta.db_table
    # Constant table and column names; no value is put in the statement.
    statement = (
        f"INSERT INTO {order} (external_id, customer_id, date, revenue, cost, category, kind) "  # noqa: S608  # nosec B608 # constant names
        "SELECT f.external_id, c.id, f.date, f.revenue, COALESCE(f.cost, 0), "
        "COALESCE(f.category, ''), COALESCE(f.kind, 'repeat') "
        f"FROM {REFERENCE_TABLE} f JOIN {customer} c ON c.external_id = f.customer"
    )
    with connection.cursor() as cursor:
        _bare_table(cursor)
        try:
            _bare_table_load(cursor, path)
            with transaction.atomic():
                started = time.perf_counter()
                cursor.execute(statement)  # safe: a constant statement
                seconds = time.perf_counter() - started
                rows = cursor.rowcount
                transaction.set_rollback(True)
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {REFERENCE_TABLE}")  # safe: a constant name
    return {"insert_floor_rows": rows, "insert_floor_s": round(seconds, 3)}


def database_settle() -> dict:
    """Before the economics run, as ``pgbench`` does before its runs: ``VACUUM (ANALYZE)``
    of the tables the import and earlier runs wrote (customers, orders, flags), so that
    no dead rows are read past, whether or not autovacuum has passed yet, and a
    ``CHECKPOINT`` (where the role may), so that the import's dirty pages are not written
    out in the middle of the run. PostgreSQL only, outside a transaction."""
    from economics.models import CustomerFlag

    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return {"settled": []}
    done = []
    with connection.cursor() as cursor:
        for model in (Customer, Order, CustomerFlag):
            table = connection.ops.quote_name(model._meta.db_table)
            cursor.execute(f"VACUUM (ANALYZE) {table}")  # safe: a quoted name of our own
            done.append(f"VACUUM (ANALYZE) {model._meta.db_table}")
        try:
            cursor.execute("CHECKPOINT")  # safe: a constant statement
            done.append("CHECKPOINT")
        except DatabaseError:  # not a superuser (or pg_checkpoint member)
            pass
    return {"settled": done}


def import_measure(*, rows: int, seed: int = 7, workdir: Path | None = None) -> dict:
    """``rows`` generated orders (of ``rows / 50`` new customers, imported first and not
    timed) through ``imports.services.import_run``, then the same file bulk-loaded into
    a bare table. What the import made is deleted afterwards, files too."""
    if rows < 1:
        raise BenchmarkError("--import-rows must be positive.")
    customers = max(10, rows // ORDERS_PER_IMPORTED_CUSTOMER)
    folder = Path(tempfile.mkdtemp(prefix="tango-benchmark-", dir=workdir))
    customers_csv, orders_csv = folder / "customers.csv", folder / "orders.csv"
    removed = 0
    if Customer.objects.filter(external_id__startswith=PREFIX).exists():
        import_cleanup()  # left over by an interrupted benchmark
    try:
        write_customers(customers_csv, customers)
        write_orders(orders_csv, rows, customers, seed)
        _import("customers", customers_csv)
        started = time.perf_counter()
        _import("orders", orders_csv)
        import_s = time.perf_counter() - started
        reference = copy_reference(orders_csv)
        # The imported orders go (their customers stay) for the floor to write them again.
        removed, _ = Order.objects.filter(external_id__startswith=PREFIX).delete()
        floor = insert_floor(orders_csv)
    finally:
        cleaned = import_cleanup()
        for path in (customers_csv, orders_csv):
            path.unlink(missing_ok=True)
        folder.rmdir()
    import_rate = rows_per_s(rows, import_s)
    copy_rate = rows_per_s(reference["copy_rows"], reference["copy_s"])
    floor_rate = rows_per_s(floor["insert_floor_rows"], floor["insert_floor_s"])
    return {
        "import_rows": rows,
        "import_customers": customers,
        "import_s": round(import_s, 3),
        "import_rows_per_s": round(import_rate),
        **reference,
        "copy_rows_per_s": round(copy_rate),
        "import_vs_copy": round(ratio(import_rate, copy_rate), 3),
        **floor,
        "insert_floor_rows_per_s": round(floor_rate),
        "import_vs_insert_floor": round(ratio(import_rate, floor_rate), 3),
        "import_cleaned_up_rows": cleaned["deleted_rows"] + removed,
    }


# --- the economics run -------------------------------------------------------------------


def _report_from(output: str) -> dict:
    start = output.find("{")
    if start < 0:
        raise BenchmarkError(f"run_economics printed no JSON report: {output[-2000:]}")
    return json.loads(output[start:])


# The stages of a run in the order they happen (a run's timings come back from the
# database in another order); any other stage follows.
STAGE_ORDER = ["load data", "cost to serve", "model fit", "predictions",
               "role fit and compliance", "classes and flags", "company KPIs", "save scores",
               "publish"]  # fmt: skip


def _stages_in_order(timings: dict) -> dict[str, float]:
    position = {name: i for i, name in enumerate(STAGE_ORDER)}
    names = sorted(timings, key=lambda name: position.get(name, len(position)))
    return {name: round(float(timings[name]), 3) for name in names}


def _economics_result(report: dict, seconds: float, rss_mb: float, method: str) -> dict:
    stages = _stages_in_order(report.get("timings") or {})
    return {
        "economics_run_s": round(seconds, 2),
        "economics_peak_rss_mb": round(rss_mb, 1),
        "economics_method": method,
        "economics_run_id": report.get("run_id"),
        "economics_customers": report.get("customers"),
        "as_of": report.get("as_of"),
        "economics_stages": stages,
        "economics_stages_s": round(sum(stages.values()), 2),
    }


def economics_measure(
    *, in_process: bool = False, workdir: Path | None = None, url: str | None = None
) -> dict:
    """``manage.py run_economics --json`` end to end. By default in a child process on
    the same settings and database (or the database at ``url``): wall time around it,
    its peak resident memory (``wait4``'s ``ru_maxrss``). ``in_process``: in this
    process, whose peak memory so far is all there is to report."""
    if in_process:
        out = io.StringIO()
        started = time.perf_counter()
        call_command("run_economics", json=True, stdout=out)
        seconds = time.perf_counter() - started
        rss = peak_rss_mb_from_kb(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        return _economics_result(
            _report_from(out.getvalue()), seconds, rss, "in this process (peak RSS: the process)"
        )
    settled = database_settle() if url is None else {"settled": []}
    manage = Path(settings.BASE_DIR) / "manage.py"
    env = child_environment(url)
    folder = Path(workdir or settings.VAR_DIR / "benchmark")
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / "economics.log"
    with tempfile.TemporaryFile("w+") as out, log_path.open("w") as log:
        started = time.perf_counter()
        process = subprocess.Popen(  # noqa: S603  # nosec B603 # our interpreter, fixed arguments
            [sys.executable, str(manage), "run_economics", "--json"],
            cwd=settings.BASE_DIR, env=env, stdout=out, stderr=log,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    if process.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        raise BenchmarkError(f"run_economics failed (exit {process.returncode}):\n{tail}")
    return (
        _economics_result(
            _report_from(output), seconds, peak_rss_mb_from_kb(usage.ru_maxrss), "child process"
        )
        | settled
    )


# --- the CLV stage against a groupby -----------------------------------------------------


def orders_frame(as_of: dt.date) -> pd.DataFrame:
    """Every order up to ``as_of`` as the run reads it: customer_id, date, revenue, cost
    (float). PostgreSQL: ``COPY (SELECT …) TO STDOUT`` read by pandas; SQLite: the ORM."""
    if connection.vendor == "postgresql":
        from psycopg import sql

        meta = Order._meta
        column = {name: sql.Identifier(meta.get_field(name).column) for name in
                  ("customer", "date", "revenue", "cost")}  # fmt: skip
        # Identifiers and the date composed by psycopg, each quoted as what it is.
        statement = sql.SQL(
            "COPY (SELECT {columns} FROM {table} WHERE {date} <= {as_of}) "
            "TO STDOUT WITH (FORMAT csv)"
        ).format(
            columns=sql.SQL(", ").join(column.values()),
            table=sql.Identifier(meta.db_table),
            date=column["date"],
            as_of=sql.Literal(as_of),
        )
        with tempfile.TemporaryFile() as spool:
            with connection.cursor() as cursor, cursor.copy(statement) as copy:
                for block in copy:
                    spool.write(block)
            spool.seek(0)
            frame = pd.read_csv(
                spool,
                names=["customer_id", "date", "revenue", "cost"],
                dtype={"customer_id": "int64", "revenue": "float64", "cost": "float64"},
                parse_dates=["date"],
                date_format="%Y-%m-%d",
            )
        return frame
    rows = list(
        Order.objects.filter(date__lte=as_of).values_list("customer_id", "date", "revenue", "cost")
    )
    frame = pd.DataFrame.from_records(rows, columns=["customer_id", "date", "revenue", "cost"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame[["revenue", "cost"]] = frame[["revenue", "cost"]].astype("float64")
    return frame


def clv_measure(*, as_of: dt.date, repeats: int = 3) -> dict:
    """``economics.engine.clv_stage`` on every order up to ``as_of`` (what a run gives
    it), against ``groupby_reference`` of the same frame; the best of ``repeats`` each."""
    from economics.engine import clv_stage
    from economics.services import _parameters, cost_model_get, params_from

    started = time.perf_counter()
    orders = orders_frame(as_of)
    loading = time.perf_counter() - started
    if orders.empty:
        raise BenchmarkError(f"No orders up to {as_of}: nothing to fit the CLV model on.")
    params = params_from(_parameters(cost_model_get()))
    stamp = pd.Timestamp(as_of)
    clv_s = best_of(lambda: clv_stage(orders, stamp, params), repeats)
    groupby_s = best_of(lambda: groupby_reference(orders), repeats)
    return {
        "clv_as_of": as_of.isoformat(),
        "clv_orders": len(orders),
        "clv_orders_load_s": round(loading, 2),
        "clv_stage_s": round(clv_s, 6),
        "groupby_reference_s": round(groupby_s, 6),
        "clv_vs_groupby": round(ratio(clv_s, groupby_s), 3),
        "clv_timing": f"best of {repeats}",
    }


# --- pages -------------------------------------------------------------------------------


def benchmark_users() -> dict[str, User]:
    """The executive and the CX analyst who read the pages: the demo logins ``exec`` and
    ``cx`` when they exist, otherwise ``benchmark-exec`` / ``benchmark-cx`` with a random
    password nobody knows."""
    users = {}
    for key, persona in (("exec", Persona.EXECUTIVE), ("cx", Persona.CX)):
        user = User.objects.filter(username=key, is_active=True, groups__name=persona.value).first()
        if user is None:
            user = user_upsert_with_persona(
                username=f"benchmark-{key}", persona=persona, password=secrets.token_urlsafe(32)
            )
        users[key] = user
    return users


def busiest_customer() -> int:
    """The customer with the most orders (the heaviest customer page)."""
    top = (
        Order.objects.values("customer_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "customer_id")
        .values_list("customer_id", flat=True)
        .first()
    )
    if top is None:
        top = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    if top is None:
        raise BenchmarkError("The database holds no customer.")
    return top


def page_paths(customer_id: int) -> dict[str, tuple[str, str]]:
    """Page name → (path, who reads it: ``exec`` or ``cx``)."""
    return {
        "dashboard": (reverse("economics:dashboard"), "exec"),
        "customer_list": (reverse("customers:list"), "exec"),
        "customer": (reverse("customers:detail", args=[customer_id]), "exec"),
        "worklist": (reverse("cx:worklist"), "cx"),
    }


def _allowed_host() -> str:
    for host in settings.ALLOWED_HOSTS:
        if host == "*":
            break
        return host.lstrip(".")
    return "localhost"


def pages_measure(*, repeats: int = 30, warmup: int = 2) -> dict:
    """Each page rendered in this process by Django's test client, signed in as its
    reader: ``warmup`` requests, then ``repeats`` timed ones; p50/p95 in ms. Any status
    but 200 is an error."""
    if repeats < 1:
        raise BenchmarkError("--page-repeats must be positive.")
    users = benchmark_users()
    customer_id = busiest_customer()
    clients = {}
    for key, user in users.items():
        client = Client(HTTP_HOST=_allowed_host(), raise_request_exception=False)
        client.force_login(user, backend=load.MODEL_BACKEND)
        clients[key] = client
    pages: dict[str, dict] = {}
    for name, (path, reader) in page_paths(customer_id).items():
        client = clients[reader]
        statuses: list[int] = []
        timings = []
        with warnings.catch_warnings():
            # whitenoise, with DEBUG off, about a STATIC_ROOT never collected: these pages
            # are rendered here, their static files are not asked for.
            warnings.filterwarnings("ignore", "No directory at", UserWarning)
            for _ in range(warmup):
                statuses.append(client.get(path, secure=True).status_code)
            for _ in range(repeats):
                started = time.perf_counter()
                response = client.get(path, secure=True)
                timings.append((time.perf_counter() - started) * 1000)
                statuses.append(response.status_code)
        pages[name] = {
            "path": path,
            "reader": users[reader].username,
            **load.latency_summary(timings),
            "errors": sum(1 for status in statuses if status != 200),
        }
    for client in clients.values():
        client.logout()
    return {
        "pages": pages,
        "page_errors": sum(page["errors"] for page in pages.values()),
        "page_customer_id": customer_id,
        "page_repeats": repeats,
    }


# --- load --------------------------------------------------------------------------------


def load_measure(
    *,
    users: int = 20,
    seconds: float = 60,
    workers: int = 3,
    server_url: str | None = None,
    workdir: Path | None = None,
    customer_id: int | None = None,
) -> dict:
    """``users`` concurrent users for ``seconds`` against gunicorn (``workers`` workers,
    production settings) started on this database, or against ``server_url``; the
    customer page is that of ``customer_id`` (default: the busiest customer). Before the
    clock starts, each page is asked for ``workers`` times in a row (not timed)."""
    accounts = benchmark_users()
    paths = page_paths(customer_id or busiest_customer())
    folder = Path(workdir or settings.VAR_DIR / "benchmark")
    keys: list[str] = []

    def requests_for(secret_key: str | None) -> list[load.PageRequest]:
        cookies = {}
        for key, user in accounts.items():
            cookies[key], session_key = load.session_cookie(user, secret_key=secret_key)
            keys.append(session_key)
        return [
            load.PageRequest(name, path, {"Cookie": cookies[reader], "X-Forwarded-Proto": "https"})
            for name, (path, reader) in paths.items()
        ]

    def measure(base_url: str, secret_key: str | None) -> dict:
        requests = requests_for(secret_key)
        warm = load.warm_up(base_url=base_url, requests=requests, times=workers)
        result = load.load_run(base_url=base_url, requests=requests, users=users, seconds=seconds)
        return {**result, "warm_up_statuses": warm}

    try:
        if server_url:
            result = measure(server_url, None)
            result["server"] = server_url
        else:
            with load.gunicorn_serving(
                database_url=database_url(),
                static_root=folder / "static",
                log_path=folder / "gunicorn.log",
                workers=workers,
            ) as server:
                result = measure(server.url, server.secret_key)
                result["server"] = f"gunicorn, {workers} workers, {server.settings_module}"
    finally:
        load.sessions_delete(keys)
    return result


# --- targets -----------------------------------------------------------------------------

TARGETS = [
    # key, label, comparison, target value, unit
    ("import_vs_copy", "import ÷ COPY (rows/s)", ">=", 0.5, "×"),
    ("economics_run_s", "economics run, end to end", "<=", 60.0, "s"),
    ("economics_peak_rss_mb", "economics run, peak RSS", "<=", 2048.0, "MB"),
    ("clv_vs_groupby", "CLV stage ÷ groupby", "<=", 3.0, "×"),
    *[
        (f"pages.{name}.p95_ms", f"{label} p95", "<=", 300.0, "ms")
        for name, label in PAGE_NAMES.items()
    ],
    ("page_errors", "page errors", "==", 0, ""),
    ("load.errors", "errors under load", "==", 0, ""),
]


def lookup(results: dict, dotted: str):
    value = results
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def target_met(value, comparison: str, target: float) -> bool | None:
    if value is None:
        return None
    if comparison == "<=":
        return value <= target
    if comparison == ">=":
        return value >= target
    return value == target


def targets_check(results: dict) -> list[dict]:
    """One row per target: the measured value (None when that part was skipped), the
    target as text and whether it is met (None when not measured)."""
    rows = []
    for key, label, comparison, target, unit in TARGETS:
        value = lookup(results, key)
        sign = {"<=": "≤", ">=": "≥", "==": "="}[comparison]
        suffix = unit if unit in ("", "×") else f" {unit}"
        rows.append(
            {
                "key": key,
                "name": label,
                "value": value,
                "target": f"{sign} {target:g}{suffix}",
                "met": target_met(value, comparison, target),
            }
        )
    return rows


def measured_at() -> str:
    return timezone.now().isoformat(timespec="seconds")
