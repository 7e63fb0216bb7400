"""``manage.py generate_dataset``: write a large generated data set in bulk. The work is
in ``customers.dataset``; this parses the arguments and prints progress and a summary."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.dataset import DEFAULT_SEED, DatasetError, dataset_generate
from customers.management.arguments import add_seed_and_end, end_date


class Command(BaseCommand):
    help = (
        "Write a large generated data set straight into the database: customers with about "
        "ten orders each over three years, invoices, tickets, activities, referrals, "
        "feedback and charters. External ids start with GEN-; --replace deletes an earlier "
        "generated data set first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers", type=int, required=True, help="How many customers (at least 1)."
        )
        add_seed_and_end(parser, default_seed=DEFAULT_SEED)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Delete an earlier generated data set (GEN- customers and their history) first.",
        )

    def handle(self, *args, **options) -> None:
        if options["customers"] < 1:
            raise CommandError("--customers must be at least 1.")
        end = end_date(options["end"])

        def progress(message: str, done: int, total: int) -> None:
            self.stdout.write(f"  {message}")
            self.stdout.flush()

        try:
            result = dataset_generate(
                customers=options["customers"],
                seed=options["seed"],
                end=end,
                replace=options["replace"],
                progress=progress,
            )
        except DatasetError as exc:
            raise CommandError(str(exc)) from exc

        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {result.customers:,} customers ({result.start} to {result.end}) "
                f"in {result.chunks} chunk{'s' if result.chunks != 1 else ''}, "
                f"{result.seconds:.1f} s:"
            )
        )
        rows = {**result.counts, "total": result.rows}
        width = max(len(label) for label in rows)
        for label, count in rows.items():
            self.stdout.write(f"  {label:<{width}}  {count:>12,}")
        orders = result.counts.get("orders", 0)
        self.stdout.write(f"  {orders / result.customers:.1f} orders per customer.")
        if result.reference:
            made = ", ".join(f"{n} {label}" for label, n in result.reference.items())
            self.stdout.write(f"  Created the reference data: {made}.")
        removed = sum(result.deleted.values())
        if removed:
            self.stdout.write(f"  Replaced {removed:,} rows of an earlier generated data set.")
