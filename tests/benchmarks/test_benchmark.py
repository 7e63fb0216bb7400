"""``manage.py benchmark``: its arithmetic worked out by hand, each measurement on a small
demo company, the child processes (the economics run, gunicorn) for real, and the whole
command end to end.

A child process cannot open SQLite's in-memory test database: there the tests hand it a
copy of the database in a file (SQLite's backup), made after the data is written. On
PostgreSQL the children open the test database itself."""

from __future__ import annotations

import datetime as dt
import io
import json
import sqlite3
import sys
import types
from pathlib import Path

import environ
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from benchmarks import load, services
from benchmarks.services import BenchmarkError
from customers.demo import demo_seed
from customers.models import Customer, Order
from imports.models import ImportJob

PAGES = {"dashboard", "customer_list", "customer", "worklist"}


@pytest.fixture(scope="module")
def static_root(tmp_path_factory) -> Path:
    """One collectstatic for the module: gunicorn's production settings need it."""
    return tmp_path_factory.mktemp("static")


@pytest.fixture
def company():
    demo_seed(customers=60)


def shared_database_url(tmp_path: Path) -> str:
    """A DATABASE_URL a child process can open, holding what the test wrote so far."""
    if services.database_shared():
        return services.database_url()
    copy = tmp_path / "copy.sqlite3"
    connection.ensure_connection()
    target = sqlite3.connect(copy)
    try:
        connection.connection.backup(target)
    finally:
        target.close()
    return f"sqlite:///{copy}"


# --- arithmetic -------------------------------------------------------------------------


def test_percentile_interpolates_between_ranks():
    assert load.percentile([4, 1, 3, 2], 50) == 2.5
    # 95th of 1..100: rank 0.95 × 99 = 94.05 → 95 + 0.05 × (96 − 95)
    assert load.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert load.percentile([10, 20, 30], 0) == 10
    assert load.percentile([10, 20, 30], 100) == 30
    assert load.percentile([7.5], 95) == 7.5


@pytest.mark.parametrize("values, q", [([], 50), ([1.0], 101), ([1.0], -1)])
def test_percentile_refuses_what_has_none(values, q):
    with pytest.raises(ValueError):
        load.percentile(values, q)


def test_latency_summary_rounds_to_a_tenth_of_a_millisecond():
    summary = load.latency_summary([10.0, 20.0, 30.0, 40.0, 50.0])
    # p95: rank 0.95 × 4 = 3.8 → 40 + 0.8 × 10
    assert summary == {"requests": 5, "p50_ms": 30.0, "p95_ms": 48.0, "max_ms": 50.0}
    assert load.latency_summary([])["p95_ms"] is None


def test_ratios():
    assert services.ratio(250_000, 500_000) == 0.5
    assert services.ratio(3.0, 1.5) == 2.0
    assert services.ratio(None, 1.0) is None
    assert services.ratio(1.0, 0) is None
    assert services.rows_per_s(1_000_000, 4.0) == 250_000


def test_best_of_keeps_the_shortest_run():
    # A clock read before and after each of three runs: they last 5, 2 and 4 s.
    readings = iter([0.0, 5.0, 10.0, 12.0, 20.0, 24.0])
    calls = []
    best = services.best_of(lambda: calls.append(1), repeats=3, clock=lambda: next(readings))
    assert best == 2.0
    assert len(calls) == 3
    with pytest.raises(ValueError):
        services.best_of(lambda: None, repeats=0)


def test_groupby_reference_counts_first_last_and_total_margin():
    orders = pd.DataFrame(
        {
            "customer_id": [2, 1, 2, 2],
            "date": pd.to_datetime(["2024-03-01", "2024-01-05", "2024-01-01", "2024-02-10"]),
            "revenue": [100.0, 50.0, 30.0, 20.0],
            "cost": [60.0, 10.0, 10.0, 25.0],
        }
    )
    summary = services.groupby_reference(orders)
    assert summary.loc[1].tolist() == [
        1,
        pd.Timestamp("2024-01-05"),
        pd.Timestamp("2024-01-05"),
        40.0,
    ]
    # customer 2: 3 orders, 1 Jan to 1 Mar, margin 40 + 20 − 5 = 55
    assert summary.loc[2].tolist() == [
        3,
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-03-01"),
        55.0,
    ]


def test_targets_check_says_which_are_met():
    results = {
        "import_vs_copy": 0.5,  # on the line: met
        "economics_run_s": 61.0,
        "economics_peak_rss_mb": 1500.0,
        "clv_vs_groupby": 3.2,
        "pages": {
            "dashboard": {"p95_ms": 120.0},
            "customer_list": {"p95_ms": 300.0},
            "customer": {"p95_ms": 301.0},
            "worklist": {"p95_ms": 80.0},
        },
        "page_errors": 0,
        # no "load": skipped
    }
    rows = {row["key"]: row for row in services.targets_check(results)}
    assert {key: row["met"] for key, row in rows.items()} == {
        "import_vs_copy": True,
        "economics_run_s": False,
        "economics_peak_rss_mb": True,
        "clv_vs_groupby": False,
        "pages.dashboard.p95_ms": True,
        "pages.customer_list.p95_ms": True,
        "pages.customer.p95_ms": False,
        "pages.worklist.p95_ms": True,
        "page_errors": True,
        "load.errors": None,
    }
    assert rows["economics_run_s"]["target"] == "≤ 60 s"
    assert rows["import_vs_copy"]["target"] == "≥ 0.5×"
    assert rows["economics_peak_rss_mb"]["target"] == "≤ 2048 MB"
    assert rows["load.errors"]["value"] is None


def test_stages_come_in_the_order_a_run_takes_them():
    stages = services._stages_in_order(
        {"publish": 1, "something new": 2, "load data": 3, "model fit": 4.123456}
    )
    assert list(stages) == ["load data", "model fit", "publish", "something new"]
    assert stages["model fit"] == 4.123


def test_database_url_opens_the_same_postgresql_database():
    url = services.database_url_from(
        {"NAME": "tango_x", "USER": "app", "PASSWORD": "p@ss:w/rd", "HOST": "db", "PORT": 6543,
         "OPTIONS": {"sslmode": "require"}},
        "postgresql",
    )  # fmt: skip
    parsed = environ.Env.db_url_config(url)
    assert (parsed["NAME"], parsed["USER"], parsed["PASSWORD"]) == ("tango_x", "app", "p@ss:w/rd")
    assert (parsed["HOST"], parsed["PORT"]) == ("db", 6543)
    assert parsed["OPTIONS"] == {"sslmode": "require"}


def test_database_url_of_a_sqlite_file_and_not_of_memory():
    url = services.database_url_from({"NAME": "/srv/tango/db.sqlite3"}, "sqlite")
    assert environ.Env.db_url_config(url)["NAME"] == "/srv/tango/db.sqlite3"
    with pytest.raises(BenchmarkError, match="in-memory"):
        services.database_url_from({"NAME": "file:memorydb_default?mode=memory"}, "sqlite")


def test_children_get_these_settings_with_debugging_off():
    with override_settings(DEBUG=True):  # under which SETTINGS_MODULE reads None
        env = services.child_environment("sqlite:////srv/tango/db.sqlite3")
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.test"
    assert env["DATABASE_URL"] == "sqlite:////srv/tango/db.sqlite3"
    assert env["DEBUG"] == "false"


# --- data -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_enough_customers_are_kept_as_they_are(company):
    data = services.data_ensure(customers=50)
    assert data["generated"] == 0
    assert data["existing"] == 60
    assert "kept the 60 customers" in data["action"]


@pytest.mark.django_db
def test_too_few_customers_generate_a_data_set_of_the_size_asked(company, monkeypatch):
    calls = []

    class DatasetError(Exception):
        pass

    def dataset_generate(**kwargs):
        calls.append(kwargs)

    fake = types.SimpleNamespace(dataset_generate=dataset_generate, DatasetError=DatasetError)
    monkeypatch.setitem(sys.modules, "customers.dataset", fake)
    data = services.data_ensure(customers=500, seed=11)
    assert calls == [{"customers": 500, "seed": 11, "replace": True, "progress": None}]
    assert data["generated"] == 500
    assert data["existing"] == 60


@pytest.mark.django_db
def test_without_the_generator_it_says_how_to_fill_the_database(company, monkeypatch):
    monkeypatch.setitem(sys.modules, "customers.dataset", None)
    with pytest.raises(BenchmarkError, match="seed_demo --customers 500"):
        services.data_ensure(customers=500)


# --- the measurements -------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_import_is_timed_against_a_bulk_load_and_leaves_nothing_behind(company, tmp_path):
    orders_before = Order.objects.count()
    result = services.import_measure(rows=300, workdir=tmp_path)
    assert result["import_rows"] == 300
    assert result["copy_rows"] == 300
    assert result["import_rows_per_s"] > 0
    assert result["copy_rows_per_s"] > 0
    # Rounded to three decimals in the report.
    assert result["import_vs_copy"] == pytest.approx(
        result["import_rows_per_s"] / result["copy_rows_per_s"], abs=0.0006
    )
    expected = "COPY FROM STDIN (csv)" if connection.vendor == "postgresql" else "executemany"
    assert result["copy_method"].startswith(expected)
    # The floor wrote the same rows into the orders table, then rolled them back.
    assert result["insert_floor_rows"] == 300
    assert result["import_vs_insert_floor"] == pytest.approx(
        result["import_rows_per_s"] / result["insert_floor_rows_per_s"], abs=0.0006
    )
    # 300 orders and their 10 customers were imported, then deleted.
    assert result["import_cleaned_up_rows"] == 310
    assert not Order.objects.filter(external_id__startswith="BENCH-").exists()
    assert not Customer.objects.filter(external_id__startswith="BENCH-").exists()
    assert Order.objects.count() == orders_before
    assert ImportJob.objects.filter(kind="orders", status=ImportJob.Status.SUCCEEDED).exists()
    assert list(tmp_path.iterdir()) == []
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert services.REFERENCE_TABLE not in tables


@pytest.mark.django_db(transaction=True)
def test_the_economics_run_is_measured_in_a_child_process(company, tmp_path):
    result = services.economics_measure(workdir=tmp_path, url=shared_database_url(tmp_path))
    assert result["economics_method"] == "child process"
    assert result["economics_customers"] == 60
    assert result["economics_run_s"] > 0
    # A Python process with Django and pandas loaded holds more than 50 MB.
    assert 50 < result["economics_peak_rss_mb"] < 4096
    assert list(result["economics_stages"])[:3] == ["load data", "cost to serve", "model fit"]
    assert result["economics_stages_s"] <= result["economics_run_s"]
    assert dt.date.fromisoformat(result["as_of"])


@pytest.mark.django_db(transaction=True)
def test_before_the_run_the_written_tables_are_vacuumed_as_pgbench_does():
    settled = services.database_settle()["settled"]
    if connection.vendor != "postgresql":
        assert settled == []  # nothing to vacuum on SQLite
        return
    assert settled[:3] == [
        "VACUUM (ANALYZE) customers_customer",
        "VACUUM (ANALYZE) customers_order",
        "VACUUM (ANALYZE) economics_customerflag",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = cursor.fetchone()[0]
    assert ("CHECKPOINT" in settled) == superuser


@pytest.mark.django_db(transaction=True)
def test_the_economics_run_can_be_measured_in_this_process(company, tmp_path):
    result = services.economics_measure(in_process=True, workdir=tmp_path)
    assert result["economics_customers"] == 60
    assert result["economics_peak_rss_mb"] > 50
    assert "save scores" in result["economics_stages"]


@pytest.mark.django_db
def test_the_clv_stage_is_timed_against_a_groupby_of_the_same_orders(company):
    as_of = timezone.localdate()  # the demo's history ends today
    result = services.clv_measure(as_of=as_of, repeats=2)
    assert result["clv_orders"] == Order.objects.filter(date__lte=as_of).count() > 0
    assert result["clv_stage_s"] > 0
    assert result["groupby_reference_s"] > 0
    assert result["clv_vs_groupby"] == pytest.approx(
        result["clv_stage_s"] / result["groupby_reference_s"], rel=0.01, abs=0.001
    )
    assert result["clv_timing"] == "best of 2"


@pytest.mark.django_db
def test_the_orders_frame_holds_what_the_run_reads(company):
    as_of = timezone.localdate()  # the demo's history ends today
    frame = services.orders_frame(as_of)
    order = Order.objects.filter(date__lte=as_of).order_by("pk").first()
    row = frame[
        (frame["customer_id"] == order.customer_id) & (frame["date"] == pd.Timestamp(order.date))
    ]
    assert float(order.revenue) in row["revenue"].tolist()
    assert list(frame.columns) == ["customer_id", "date", "revenue", "cost"]
    assert frame["revenue"].dtype == "float64"


@pytest.mark.django_db
def test_pages_are_timed_signed_in_as_their_readers(company):
    call_command("run_economics", stdout=io.StringIO())
    result = services.pages_measure(repeats=3, warmup=1)
    assert set(result["pages"]) == PAGES
    assert result["page_errors"] == 0
    busiest = services.busiest_customer()
    assert result["pages"]["customer"]["path"] == f"/customers/{busiest}/"
    assert result["pages"]["worklist"]["reader"] == "cx"
    for page in result["pages"].values():
        assert page["requests"] == 3
        assert 0 < page["p50_ms"] <= page["p95_ms"] <= page["max_ms"]


@pytest.mark.django_db
def test_a_page_that_fails_counts_as_an_error(company, monkeypatch):
    monkeypatch.setattr(
        services, "page_paths", lambda customer_id: {"customer": ("/customers/0/", "exec")}
    )
    result = services.pages_measure(repeats=2, warmup=1)
    assert result["pages"]["customer"]["errors"] == 3
    assert result["page_errors"] == 3


@pytest.mark.django_db
def test_the_readers_are_the_demo_logins_or_made_for_the_benchmark():
    users = services.benchmark_users()
    assert users["exec"].username == "benchmark-exec"
    assert users["cx"].username == "benchmark-cx"
    assert not users["exec"].check_password("tango-demo-password")
    demo_seed(customers=20)  # makes the demo logins
    users = services.benchmark_users()
    assert (users["exec"].username, users["cx"].username) == ("exec", "cx")


@pytest.mark.django_db(transaction=True)
def test_users_put_load_on_a_running_server(company, live_server):
    users = services.benchmark_users()
    paths = services.page_paths(services.busiest_customer())
    cookies = {key: load.session_cookie(user)[0] for key, user in users.items()}
    requests = [
        load.PageRequest(name, path, {"Cookie": cookies[reader]})
        for name, (path, reader) in paths.items()
    ]
    result = load.load_run(base_url=live_server.url, requests=requests, users=2, seconds=1)
    assert result["requests"] > 0
    assert result["errors"] == 0, result["error_kinds"]
    assert set(result["pages"]) == PAGES
    assert result["users"] == 2


@pytest.mark.django_db(transaction=True)
def test_a_signed_out_user_under_load_counts_as_errors(company, live_server):
    requests = [load.PageRequest("dashboard", "/economics/dashboard/")]
    result = load.load_run(base_url=live_server.url, requests=requests, users=1, seconds=0.5)
    assert result["errors"] == result["requests"] > 0
    assert set(result["error_kinds"]) == {"302"}


@pytest.mark.django_db(transaction=True)
def test_gunicorn_serves_the_pages_to_concurrent_users(company, tmp_path, static_root):
    """…signed in by a session signed with the server's key; one signed with another
    key is sent to the sign-in page."""
    call_command("run_economics", stdout=io.StringIO())
    users = services.benchmark_users()
    paths = services.page_paths(services.busiest_customer())
    secret_key = "a-secret-key-for-this-test-only-" + "x7Qz" * 8
    cookies = {
        key: load.session_cookie(user, secret_key=secret_key)[0] for key, user in users.items()
    }
    foreign, _ = load.session_cookie(users["exec"], secret_key="another-key-" + "q" * 50)
    url = shared_database_url(tmp_path)
    with load.gunicorn_serving(
        database_url=url,
        static_root=static_root,
        log_path=tmp_path / "gunicorn.log",
        workers=2,
        secret_key=secret_key,
    ) as server:
        assert server.settings_module == "config.settings.production"
        requests = [
            load.PageRequest(name, path, {"Cookie": cookies[reader], "X-Forwarded-Proto": "https"})
            for name, (path, reader) in paths.items()
        ]
        warm = load.warm_up(base_url=server.url, requests=requests, times=1)
        result = load.load_run(base_url=server.url, requests=requests, users=2, seconds=2)
        stranger = load.PageRequest("dashboard", paths["dashboard"][0], {"Cookie": foreign})
        refused = load.warm_up(base_url=server.url, requests=[stranger], times=1)
        process = server.process
    assert warm == {"200": 4}  # each page, signed in, through gunicorn
    assert refused == {"302": 1}
    assert result["errors"] == 0, result["error_kinds"]
    assert result["requests"] > 0
    assert sum(page["requests"] for page in result["pages"].values()) == result["requests"]
    assert process.poll() is not None  # stopped


# --- the command ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_benchmark_command_measures_everything_and_writes_json(company, tmp_path, live_server):
    output = tmp_path / "out" / "benchmark.json"
    args = ["--customers", "60", "--import-rows", "500", "--users", "2", "--seconds", "2",
            "--page-repeats", "2", "--workers", "2", "--output", str(output),
            "--workdir", str(tmp_path / "work")]  # fmt: skip
    if not services.database_shared():
        # SQLite's in-memory test database: the economics in this process, the load on
        # the test server. (The child processes are tested above on a copy.)
        args += ["--in-process", "--server", live_server.url]
    printed = tmp_path / "printed.txt"
    with printed.open("w") as stdout:
        call_command("benchmark", *args, stdout=stdout)

    report = json.loads(output.read_text())
    assert report["customers"] == 60
    assert report["orders"] == Order.objects.count() > 0
    for key in ["import_rows_per_s", "copy_rows_per_s", "economics_run_s",
                "economics_peak_rss_mb", "clv_stage_s", "groupby_reference_s"]:  # fmt: skip
        assert report[key] > 0, key
    assert set(report["pages"]) == PAGES
    for page in report["pages"].values():
        assert 0 < page["p50_ms"] <= page["p95_ms"]
        assert page["errors"] == 0
    load_ = report["load"]
    assert (load_["users"], load_["seconds"]) == (2, 2)
    assert load_["requests"] > 0
    assert load_["errors"] == 0, load_["error_kinds"]
    assert load_["p95_ms"] > 0
    assert len(report["targets"]) == 10
    assert all(row["met"] in (True, False) for row in report["targets"])
    assert report["all_targets_met"] == all(row["met"] for row in report["targets"])
    # What the import made is gone; the run it measured is current.
    assert not Order.objects.filter(external_id__startswith="BENCH-").exists()
    assert not Customer.objects.filter(external_id__startswith="BENCH-").exists()
    assert report["economics_customers"] == 60

    table = printed.read_text()
    assert "measure" in table
    assert "met" in table
    assert "CLV stage ÷ groupby" in table
    assert f"Report written to {output}" in table


@pytest.mark.django_db
def test_parts_can_be_skipped(company, tmp_path):
    output = tmp_path / "b.json"
    call_command(
        "benchmark", "--customers", "10", "--skip-import", "--skip-economics", "--skip-load",
        "--page-repeats", "1", "--output", str(output), stdout=io.StringIO(),
    )  # fmt: skip
    report = json.loads(output.read_text())
    assert "import_rows_per_s" not in report
    assert "load" not in report
    assert report["clv_stage_s"] > 0
    rows = {row["key"]: row["met"] for row in report["targets"]}
    assert rows["economics_run_s"] is None
    assert rows["load.errors"] is None
    assert rows["page_errors"] is True


@pytest.mark.django_db
def test_an_in_memory_database_needs_the_in_process_run(monkeypatch, tmp_path):
    monkeypatch.setattr(services, "database_shared", lambda: False)
    with pytest.raises(CommandError, match="--in-process"):
        call_command("benchmark", "--customers", "1", "--skip-load")
    with pytest.raises(CommandError, match="--server"):
        call_command("benchmark", "--customers", "1", "--in-process")
