"""Time the real import path on a large generated orders file.

    python manage.py import_benchmark --rows 1000000 --customers 20000

Generates a customers file and an orders file (in chunks, so generating costs little
memory), imports the customers, then the orders through ``imports.services.import_run``
(exactly what ``import_data`` runs), then the same orders file again (all unchanged).
Prints rows per second and the process's peak resident memory. Writes to the
configured database: use a scratch one. ``--cleanup`` deletes what it made.
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from customers.models import Customer, Order
from imports import services
from imports.models import ImportJob

PREFIX = "BENCH-"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def write_customers(path: Path, count: int) -> None:
    ids = np.char.add(f"{PREFIX}C", np.arange(count).astype(str))
    frame = pd.DataFrame(
        {
            "external_id": ids,
            "name": np.char.add("Benchmark customer ", np.arange(count).astype(str)),
            "segment": "Benchmark",
            "acquired_on": "2020-01-01",
            "acquisition_cost": "250.00",
        }
    )
    frame.to_csv(path, index=False)


def write_orders(path: Path, rows: int, customers: int, seed: int, chunk: int = 200_000) -> None:
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("external_id,customer,date,revenue,cost,category,kind\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            cents = rng.integers(1_000, 5_000_000, n)
            cost = cents * rng.integers(30, 90, n) // 100
            days = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 1460, n), "D")
            frame = pd.DataFrame(
                {
                    "external_id": np.char.add(
                        f"{PREFIX}O", np.arange(start, start + n).astype(str)
                    ),
                    "customer": np.char.add(
                        f"{PREFIX}C", rng.integers(0, customers, n).astype(str)
                    ),
                    "date": days.strftime("%Y-%m-%d"),
                    "revenue": [f"{c // 100}.{c % 100:02d}" for c in cents],
                    "cost": [f"{c // 100}.{c % 100:02d}" for c in cost],
                    "category": rng.choice(["Hardware", "Software", "Services"], n),
                    "kind": rng.choice(["first", "repeat", "upgrade", "cross_sell"], n),
                }
            )
            frame.to_csv(handle, header=False, index=False)


class Command(BaseCommand):
    help = "Generate a large orders CSV and time its import (use a scratch database)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--customers", type=int, default=20_000)
        parser.add_argument("--seed", type=int, default=7)
        parser.add_argument("--dir", help="Where to write the files (default: a temp dir).")
        parser.add_argument("--no-reimport", action="store_true", help="Skip the second run.")
        parser.add_argument("--cleanup", action="store_true", help="Delete the BENCH- records.")

    def handle(self, *args, rows, customers, seed, dir, no_reimport, cleanup, **options):
        if rows < 1 or customers < 1:
            raise CommandError("--rows and --customers must be positive.")
        workdir = Path(dir or tempfile.mkdtemp(prefix="tango-bench-"))
        workdir.mkdir(parents=True, exist_ok=True)
        customers_csv = workdir / "bench-customers.csv"
        orders_csv = workdir / "bench-orders.csv"
        vendor = connection.vendor
        self.stdout.write(f"Database: {vendor} ({connection.settings_dict['NAME']})")

        started = time.monotonic()
        write_customers(customers_csv, customers)
        write_orders(orders_csv, rows, customers, seed)
        size_mb = orders_csv.stat().st_size / 1024 / 1024
        self.stdout.write(
            f"Generated {rows:,} orders for {customers:,} customers ({size_mb:.0f} MB) "
            f"in {time.monotonic() - started:.1f} s; peak RSS so far {peak_rss_mb():.0f} MB"
        )

        self._run("customers", customers_csv, customers)
        self._run("orders", orders_csv, rows)
        if not no_reimport:
            self._run("orders", orders_csv, rows, label="orders again (all unchanged)")

        if cleanup:
            Order.objects.filter(external_id__startswith=PREFIX).delete()
            Customer.objects.filter(external_id__startswith=PREFIX).delete()
            orders_csv.unlink(missing_ok=True)
            customers_csv.unlink(missing_ok=True)
            self.stdout.write("Removed the benchmark's records and files.")

    def _run(self, kind: str, path: Path, rows: int, label: str = "") -> None:
        started = time.monotonic()
        result = services.import_run(
            kind=kind, source=str(path), origin=ImportJob.Origin.CLI, keep_errors=20
        )
        elapsed = time.monotonic() - started
        try:
            if not result.ok:
                raise CommandError(f"{kind} rejected: {result.summary} {result.errors[:5]}")
        finally:
            result.close()
        self.stdout.write(
            self.style.SUCCESS(
                f"{label or kind}: {rows:,} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s "
                f"({result.summary}); peak RSS {peak_rss_mb():.0f} MB"
            )
        )
