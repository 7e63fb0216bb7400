"""``manage.py benchmark --customers N``: the performance figures of docs/performance.md,
measured in one run on the current database, printed as a table and written as JSON.

Steps, in this order: enough customers (generated when too few); the import of a
generated orders file against a bulk load of the same file; the economics run end to
end; the CLV stage against a pandas groupby; the pages rendered in this process; the
same pages under concurrent users against gunicorn. Use a scratch database: the
benchmark writes to it (a data set when there are too few customers, an economics run,
an import that it deletes afterwards).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import override_settings
from django.utils import timezone

from benchmarks import services
from benchmarks.services import BenchmarkError
from customers.models import Customer, Order


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(BaseCommand):
    help = (
        "Measure the import, the economics run, the CLV stage and the pages on the current "
        "database against their targets; print a table and write a JSON report."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=_positive,
            required=True,
            help="The scale: with fewer customers in the database, a data set of this many "
            "is generated first.",
        )
        parser.add_argument("--seed", type=int, default=7, help="Seed of generated data (7).")
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="Where to write the JSON report (default var/benchmark.json).",
        )
        parser.add_argument(
            "--workdir",
            type=Path,
            default=None,
            help="Where the generated files, collected static files and logs go "
            "(default var/benchmark).",
        )
        parser.add_argument(
            "--import-rows",
            type=_positive,
            default=1_000_000,
            help="Rows of the generated orders file (1,000,000).",
        )
        parser.add_argument(
            "--users", type=_positive, default=20, help="Concurrent users of the load (20)."
        )
        parser.add_argument(
            "--seconds", type=_positive, default=60, help="How long the load lasts (60)."
        )
        parser.add_argument(
            "--workers", type=_positive, default=3, help="gunicorn workers under load (3)."
        )
        parser.add_argument(
            "--page-repeats",
            type=_positive,
            default=30,
            help="Timed requests per page in this process, after 2 to warm up (30).",
        )
        parser.add_argument("--skip-import", action="store_true")
        parser.add_argument("--skip-economics", action="store_true")
        parser.add_argument("--skip-load", action="store_true")
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="Run the economics in this process instead of a child process (its peak "
            "memory is then this process's); for databases no other process can open.",
        )
        parser.add_argument(
            "--server",
            default=None,
            help="Put the load on this running server (http://host:port) instead of "
            "starting gunicorn; it must use this database and this SECRET_KEY.",
        )

    def handle(self, *args, **options) -> None:
        try:
            # As in production: no query log (DEBUG keeps every query's SQL in memory).
            with override_settings(DEBUG=False):
                report = self._measure(options)
        except BenchmarkError as exc:
            raise CommandError(str(exc)) from exc
        output = options["output"] or Path(settings.VAR_DIR) / "benchmark.json"
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(report, indent=2, default=str) + "\n")
        self._table(report)
        self.stdout.write(f"Report written to {output}")

    def _step(self, title: str) -> float:
        self.stdout.write(f"· {title} …")
        return time.perf_counter()

    def _done(self, started: float, note: str = "") -> None:
        self.stdout.write(f"  done in {time.perf_counter() - started:,.1f} s{note}")

    def _generation_progress(self, message: str, done: int, total: int) -> None:
        self.stdout.write(f"  {message} ({done:,} of {total:,} customers)")

    def _measure(self, o: dict) -> dict:
        shared = services.database_shared()
        if not shared and not o["skip_economics"] and not o["in_process"]:
            raise BenchmarkError("This database is in memory: run the economics with --in-process.")
        if not shared and not o["skip_load"] and not o["server"]:
            raise BenchmarkError(
                "This database is in memory: gunicorn cannot open it; give --server or --skip-load."
            )
        workdir = o["workdir"] or Path(settings.VAR_DIR) / "benchmark"
        workdir.mkdir(parents=True, exist_ok=True)
        report: dict = {
            "measured_at": services.measured_at(),
            "database": {
                "vendor": connection.vendor,
                "name": str(connection.settings_dict["NAME"]),
            },
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "requested_customers": o["customers"],
        }
        self.stdout.write(
            f"Benchmark on {connection.vendor} ({connection.settings_dict['NAME']}), "
            f"{os.cpu_count()} CPUs"
        )

        started = self._step(f"data: at least {o['customers']:,} customers")
        data = services.data_ensure(
            customers=o["customers"], seed=o["seed"], progress=self._generation_progress
        )
        report["data"] = data
        self._done(started, f": {data['action']}")

        if not o["skip_import"]:
            started = self._step(f"import of {o['import_rows']:,} orders, then bulk load")
            report.update(
                services.import_measure(rows=o["import_rows"], seed=o["seed"], workdir=workdir)
            )
            self._done(started, f"; {report['import_cleaned_up_rows']:,} imported rows deleted")

        report["customers"] = Customer.objects.count()
        report["orders"] = Order.objects.count()

        if not o["skip_economics"]:
            started = self._step("economics run (run_economics --json)")
            report.update(services.economics_measure(in_process=o["in_process"], workdir=workdir))
            self._done(started, f" (run #{report['economics_run_id']})")

        # The run's as-of date, or today's (what a run would use) when it was skipped.
        as_of_text = report.get("as_of")
        as_of = dt.date.fromisoformat(as_of_text) if as_of_text else timezone.localdate()
        started = self._step(f"CLV stage against a groupby, orders up to {as_of}")
        report.update(services.clv_measure(as_of=as_of))
        self._done(started)

        started = self._step(f"pages in this process, {o['page_repeats']} requests each")
        report.update(services.pages_measure(repeats=o["page_repeats"]))
        self._done(started)

        if not o["skip_load"]:
            where = o["server"] or f"gunicorn ({o['workers']} workers)"
            started = self._step(f"{o['users']} users for {o['seconds']} s against {where}")
            report["load"] = services.load_measure(
                users=o["users"],
                seconds=o["seconds"],
                workers=o["workers"],
                server_url=o["server"],
                workdir=workdir,
                customer_id=report["page_customer_id"],
            )
            self._done(started)

        report["targets"] = services.targets_check(report)
        measured = [row["met"] for row in report["targets"] if row["met"] is not None]
        report["all_targets_met"] = all(measured) if measured else None
        return report

    # --- output --------------------------------------------------------------------------

    def _table(self, r: dict) -> None:
        rows: list[tuple[str, str, str, str]] = []
        met = {row["key"]: row for row in r["targets"]}

        def add(name: str, value, fmt: str = "{:,.0f}", key: str | None = None) -> None:
            shown = "skipped" if value is None else fmt.format(value)
            target, ok = "", ""
            if key in met:
                target = met[key]["target"]
                ok = {True: "yes", False: "NO", None: "-"}[met[key]["met"]]
            rows.append((name, shown, target, ok))

        add("customers", r.get("customers"))
        add("orders", r.get("orders"))
        add("import (rows/s)", r.get("import_rows_per_s"))
        add(f"{r.get('copy_method', 'COPY')} (rows/s)", r.get("copy_rows_per_s"))
        add("import ÷ COPY", r.get("import_vs_copy"), "{:.2f}", "import_vs_copy")
        add("  floor: INSERT … SELECT into orders (rows/s)", r.get("insert_floor_rows_per_s"))
        add("  import ÷ that floor", r.get("import_vs_insert_floor"), "{:.2f}")
        add("economics run (s)", r.get("economics_run_s"), "{:,.1f}", "economics_run_s")
        for stage, seconds in (r.get("economics_stages") or {}).items():
            add(f"  stage: {stage} (s)", seconds, "{:,.2f}")
        if r.get("economics_stages"):
            # The rest of the wall time: process start, queuing, preparing the dashboard.
            add("  stages together (s)", r.get("economics_stages_s"), "{:,.2f}")
        add("economics peak RSS (MB)", r.get("economics_peak_rss_mb"), "{:,.0f}",
            "economics_peak_rss_mb")  # fmt: skip
        add("CLV stage (s, best of 3)", r.get("clv_stage_s"), "{:,.3f}")
        add("groupby reference (s, best of 3)", r.get("groupby_reference_s"), "{:,.3f}")
        add("CLV stage ÷ groupby", r.get("clv_vs_groupby"), "{:.2f}", "clv_vs_groupby")
        for name, label in services.PAGE_NAMES.items():
            page = (r.get("pages") or {}).get(name, {})
            add(f"{label} p50 (ms)", page.get("p50_ms"), "{:,.1f}")
            add(f"{label} p95 (ms)", page.get("p95_ms"), "{:,.1f}", f"pages.{name}.p95_ms")
        add("page errors", r.get("page_errors"), "{:,}", "page_errors")
        load = r.get("load") or {}
        if load:
            rows.append((f"load: {load['users']} users × {load['seconds']} s", "", "", ""))
        add("load requests", load.get("requests"), "{:,}")
        add("load requests/s", load.get("requests_per_s"), "{:,.1f}")
        add("load p50 (ms)", load.get("p50_ms"), "{:,.1f}")
        add("load p95 (ms)", load.get("p95_ms"), "{:,.1f}")
        add("load errors", load.get("errors"), "{:,}", "load.errors")

        headers = ("measure", "value", "target", "met")
        widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(4)]
        line = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths))
        self.stdout.write("")
        self.stdout.write(line.format(*headers))
        self.stdout.write(line.format(*("-" * w for w in widths)))
        for row in rows:
            self.stdout.write(line.format(*row))
        verdict = r.get("all_targets_met")
        self.stdout.write(
            "Targets: "
            + {True: "all met.", False: "some NOT met.", None: "none measured."}[verdict]
        )
