from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.personas import Persona, primary_persona
from customers import selectors as customer_selectors
from customers.filters import CustomerFilter
from customers.models import Customer
from cx import selectors as cx_selectors
from economics import charts
from economics.models import CustomerFlag
from economics.selectors import current_run, flagged_customer_count, last_heartbeat
from roles.selectors import listening_due, open_charters

HOME_TEMPLATES = {
    Persona.ADMIN: "core/home_admin.html",
    Persona.EXECUTIVE: "core/home_executive.html",
    Persona.ACCOUNT_MANAGER: "core/home_account_manager.html",
    Persona.CX: "core/home_cx.html",
    Persona.INTEGRATOR: "core/home_integrator.html",
}


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each persona lands on the page made for it."""
    persona = primary_persona(request.user)
    if persona is None:
        return render(request, "core/home_no_persona.html", status=403)
    customers = Customer.objects.visible_to(request.user)
    today = timezone.localdate()
    context: dict = {"today": today}
    if persona in (Persona.EXECUTIVE, Persona.ADMIN):
        rows = customer_selectors.monthly_sales(
            customers=customers, since=today.replace(day=1) - timedelta(days=730)
        )
        context["sales_figure"] = charts.monthly_sales_figure(
            rows, currency=settings.TANGO_CURRENCY
        )
        context["trailing"] = customer_selectors.trailing_totals(customers=customers, as_of=today)
        context["customer_count"] = customers.count()
    if persona == Persona.ADMIN:
        context["counts"] = customer_selectors.data_counts()
        context["heartbeat"] = last_heartbeat()
    if persona == Persona.ACCOUNT_MANAGER:
        my_customers = list(
            customer_selectors.customer_list(
                user=request.user, filters=CustomerFilter(sort="clv")
            ).prefetch_related(
                Prefetch(
                    "flags",
                    queryset=CustomerFlag.objects.filter(status=CustomerFlag.Status.OPEN),
                    to_attr="open_flags",
                )
            )[:15]
        )
        context["my_customers"] = my_customers
        context["listening_due"] = listening_due(customers)[:15]
        context["flagged_count"] = flagged_customer_count(customers)
        context["my_customer_count"] = customers.count()
        context["open_charters"] = open_charters(user=request.user)[:15]
        context["trailing"] = customer_selectors.trailing_totals(customers=customers, as_of=today)
    if persona == Persona.CX:
        context["worklist"] = cx_selectors.worklist_headline(user=request.user, today=today)
        context["recent_complaints"] = customer_selectors.recent_complaints(customers=customers)
        context["most_complaining"] = customer_selectors.most_complaining(customers=customers)
    if persona == Persona.INTEGRATOR:
        context["counts"] = customer_selectors.data_counts()
    return render(request, HOME_TEMPLATES[persona], context)


def healthz(request: HttpRequest) -> JsonResponse:
    """For load balancers, compose and people: the database, the broker, the workers,
    and how old the figures are. 503 when the database or a configured broker is down."""
    report: dict = {}
    healthy = True
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # safe: a constant statement, no input
        report["database"] = "ok"
    except Exception as exc:
        return JsonResponse({"database": f"error: {exc.__class__.__name__}"}, status=503)
    if settings.CELERY_BROKER_URL:
        report["broker"] = _broker_status()
        healthy = report["broker"] == "ok"
    else:
        report["broker"] = "none (tasks run in-process)"
    beat = last_heartbeat()
    report["last_worker_heartbeat_s"] = (
        round((timezone.now() - beat.at).total_seconds()) if beat else None
    )
    run = current_run()
    report["current_run"] = run.pk if run else None
    report["last_good_run_age_s"] = (
        round((timezone.now() - run.finished_at).total_seconds()) if run else None
    )
    return JsonResponse(report, status=200 if healthy else 503)


def _broker_status() -> str:
    from config.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"
