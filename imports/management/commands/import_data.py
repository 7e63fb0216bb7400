"""python manage.py import_data KIND FILE [--dry-run] [--create-missing-customers]

Exit status: 0 when the file was imported (or, with --dry-run, is valid); 1 when it
was rejected, with every error printed; 3 when another import of the kind is running.
"""

from __future__ import annotations

import csv
import io
import sys

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from imports import services
from imports.models import ImportJob
from imports.specs import ORDER_LIKE, SPECS

REJECTED = 1
BUSY = 3


class Command(BaseCommand):
    help = "Import a CSV or XLSX file of one kind of record (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(SPECS))
        parser.add_argument("file")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and count; write nothing."
        )
        parser.add_argument(
            "--create-missing-customers",
            action="store_true",
            help=f"Create customers the file names but Tango lacks ({', '.join(ORDER_LIKE)}).",
        )
        parser.add_argument("--user", help="Username to record as the importer.")

    def handle(self, *args, kind, file, dry_run, create_missing_customers, user, **options):
        importer = None
        if user:
            importer = get_user_model().objects.filter(username=user).first()
            if importer is None:
                raise CommandError(f"No user {user!r}.")
        if create_missing_customers and kind not in ORDER_LIKE:
            raise CommandError(f"--create-missing-customers does not apply to {kind}.")
        try:
            result = services.import_run(
                kind=kind,
                source=file,
                dry_run=dry_run,
                create_missing_customers=create_missing_customers,
                user=importer,
                origin=ImportJob.Origin.CLI,
                keep_errors=0,
            )
        except services.ImportAlreadyRunning as exc:
            raise CommandError(str(exc), returncode=BUSY) from None
        try:
            if result.ok:
                verb = "Valid" if dry_run else "Imported"
                self.stdout.write(
                    self.style.SUCCESS(f"{verb} {result.file_name}: {result.summary}")
                )
                self.stdout.write(f"Import #{result.job_id}, {result.duration:.1f} s.")
                return
            self._print_errors(result)
        finally:
            result.close()
        sys.exit(REJECTED)

    def _print_errors(self, result) -> None:
        self.stderr.write(self.style.ERROR(f"Rejected {result.file_name}: {result.summary}"))
        if result.report is None:
            return
        reader = csv.reader(io.TextIOWrapper(result.report, encoding="utf-8-sig", newline=""))
        next(reader, None)
        for row, column, value, _code, reason in reader:
            where = f"row {row}" if row else "file"
            what = f", {column}" if column else ""
            shown = f" = {value!r}" if value else ""
            self.stderr.write(f"  {where}{what}{shown}: {reason}")
