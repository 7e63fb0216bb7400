import datetime as dt
import json
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from economics.models import EconomicsRun
from economics.selectors import current_run, run_report
from economics.services import EconomicsRunBusy, run_execute, run_request


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


class Command(BaseCommand):
    help = "Compute the economics now, in this process, and make the result current."

    def add_arguments(self, parser):
        parser.add_argument("--as-of", type=_date, help="Date of the figures (default: today)")
        parser.add_argument(
            "--holdout-end",
            type=_date,
            help="Also compare predicted with actual repeat purchases up to this date",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON document")
        parser.add_argument(
            "--queue",
            action="store_true",
            help="Hand the run to the Celery workers (a broker must be configured) and wait "
            "for it, instead of computing it in this process",
        )
        parser.add_argument(
            "--chunk-customers",
            type=int,
            default=None,
            help="With --queue: split the run across the workers in chunks of this many "
            "customers (default: the ECONOMICS_CHUNK_CUSTOMERS setting; 0: do not split)",
        )
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Do nothing when a run is current already (used by make run)",
        )

    def handle(self, *args, as_of=None, holdout_end=None, json=False, **options):
        if options.get("if_missing") and current_run() is not None:
            self.stdout.write("The economics have been computed already; --if-missing given.")
            return
        queue = options.get("queue")
        if queue and settings.CELERY_TASK_ALWAYS_EAGER:
            raise CommandError("--queue needs a broker: set CELERY_BROKER_URL.")
        try:
            run = run_request(
                as_of=as_of, holdout_end=holdout_end, trigger=EconomicsRun.Trigger.CLI,
                enqueue=bool(queue), chunk_customers=options.get("chunk_customers"),
            )  # fmt: skip
        except (EconomicsRunBusy, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        if queue:
            self._wait(run)
        else:
            try:
                run_execute(run.pk)
            except Exception as exc:
                raise CommandError(f"The run failed: {exc}") from exc
        run.refresh_from_db()
        if run.status != EconomicsRun.Status.SUCCEEDED:
            raise CommandError(f"The run failed: {run.error}")
        report = run_report(run)
        if json:
            self.stdout.write(_dumps(report))
            return
        k, bg, gg = report["kpis"], report["model"]["bgnbd"], report["model"]["gamma_gamma"]
        # From start to publication: a split run's stages overlap (its chunks run at once).
        seconds = run.duration_s
        if seconds is None:
            seconds = sum(report["timings"].values())
        self.stdout.write(self.style.SUCCESS(
            f"Run #{run.pk} as of {run.as_of}: {run.customers} customers in {seconds:.1f} s"
        ))  # fmt: skip
        self.stdout.write(
            f"BG/NBD r={bg['r']:.4f} alpha={bg['alpha']:.4f} a={bg['a']:.4f} b={bg['b']:.4f} "
            f"(log-likelihood {bg['log_likelihood']:.1f}, {bg['n_customers']} customers)"
        )
        self.stdout.write(
            f"Gamma-Gamma p={gg['p']:.4f} q={gg['q']:.4f} gamma={gg['gamma']:.4f} "
            f"({gg['n_customers']} customers)"
        )
        for key in ["cost_of_complaint", "cost_of_new_customer", "annual_value_of_customer",
                    "unprofitable_share", "clv_to_cac"]:  # fmt: skip
            self.stdout.write(f"  {key.replace('_', ' ')}: {k[key]}")
        if report.get("holdout"):
            h = report["holdout"]
            self.stdout.write(f"Holdout: predicted {h['predicted']}, actual {h['actual']}")

    def _wait(self, run: EconomicsRun) -> None:
        """Until the workers have finished the run, its stage and progress on stderr."""
        shown = None
        while True:
            run.refresh_from_db()
            now = (run.stage, run.progress)
            if now != shown:
                self.stderr.write(f"  {run.progress:>3} %  {run.stage}")
                shown = now
            if run.active is None:
                return
            time.sleep(0.5)


def _dumps(report: dict) -> str:
    return json.dumps(report, indent=2, default=str)
