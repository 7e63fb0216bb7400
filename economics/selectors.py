from __future__ import annotations

from .models import CustomerFlag, CustomerScore, EconomicsRun, WorkerHeartbeat


def last_heartbeat() -> WorkerHeartbeat | None:
    return WorkerHeartbeat.objects.order_by("-at").first()


def current_run() -> EconomicsRun | None:
    return EconomicsRun.objects.filter(is_current=True).first()


def previous_run(run: EconomicsRun) -> EconomicsRun | None:
    return (
        EconomicsRun.objects.filter(
            status=EconomicsRun.Status.SUCCEEDED, created_at__lt=run.created_at
        )
        .order_by("-created_at")
        .first()
    )


def active_run() -> EconomicsRun | None:
    return EconomicsRun.objects.filter(active=True).first()


def latest_score(customer) -> CustomerScore | None:
    run = current_run()
    if run is None:
        return None
    return CustomerScore.objects.filter(run=run, customer=customer).select_related("run").first()


def open_flags(customer) -> list[CustomerFlag]:
    return list(
        CustomerFlag.objects.filter(customer=customer, status=CustomerFlag.Status.OPEN).order_by(
            "kind"
        )
    )


def flagged_customer_count(customers) -> int:
    """How many of these customers have at least one open flag."""
    return (
        CustomerFlag.objects.filter(customer__in=customers, status=CustomerFlag.Status.OPEN)
        .values("customer_id")
        .distinct()
        .count()
    )


def run_report(run: EconomicsRun) -> dict:
    """What the command line and the API print about a run."""
    kpis = {k: v for k, v in run.kpis.items() if k not in ("by_sales_rep", "by_channel")}
    report = {
        "run_id": run.pk,
        "status": run.status,
        "as_of": run.as_of.isoformat(),
        "customers": run.customers,
        "parameters": run.parameters,
        "model": run.model,
        "kpis": kpis,
        "timings": run.timings,
    }
    if run.holdout:
        report["holdout"] = run.holdout
    return report
