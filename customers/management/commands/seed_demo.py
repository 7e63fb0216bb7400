"""``manage.py seed_demo``: build (or rebuild) the demo company. The work is in
``customers.demo``; this parses the arguments and prints a summary."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from customers.demo import DEFAULT_CUSTOMERS, DEFAULT_SEED, DemoSeedError, demo_seed
from customers.management.arguments import add_seed_and_end, end_date


class Command(BaseCommand):
    help = (
        "Build a believable demo company: customers with three years of orders, invoices, "
        "tickets, activities, referrals and feedback, role blueprints, commitments and "
        "charters. Replaces the previous demo data (external ids starting with DEMO-)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customers",
            type=int,
            default=DEFAULT_CUSTOMERS,
            help=f"How many customers (default {DEFAULT_CUSTOMERS}).",
        )
        add_seed_and_end(parser, default_seed=DEFAULT_SEED)
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing when any customer exists already.",
        )

    def handle(self, *args, **options) -> None:
        end = end_date(options["end"])
        if options["customers"] < 1:
            raise CommandError("--customers must be at least 1.")
        try:
            result = demo_seed(
                customers=options["customers"],
                seed=options["seed"],
                end=end,
                if_empty=options["if_empty"],
            )
        except DemoSeedError as exc:
            raise CommandError(str(exc)) from exc

        if result.skipped:
            self.stdout.write(
                f"{result.existing_customers} customers exist already; "
                "--if-empty given, so no demo data was seeded."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded the demo company ({result.start} to {result.end}) "
                f"in {result.seconds:.1f} s:"
            )
        )
        width = max(len(label) for label in result.counts)
        for label, count in result.counts.items():
            self.stdout.write(f"  {label:<{width}}  {count:>9,}")
        customers = result.counts.get("customers", 0)
        share = result.unprofitable / customers if customers else 0.0
        self.stdout.write(
            f"  {result.unprofitable:,} customers ({share:.0%}) have earned less gross margin "
            "than their acquisition cost, sales bonus and concessions."
        )
        removed = sum(result.deleted.values())
        if removed:
            self.stdout.write(f"  Replaced {removed:,} rows of earlier demo data.")
