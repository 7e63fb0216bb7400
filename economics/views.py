"""The cost model and economics runs (admins and executives), and the executive
dashboard (also the CX team)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.decorators import persona_required
from accounts.personas import Persona, has_persona
from accounts.selectors import account_managers
from audit.services import AuditAction, audit_record
from commitments.models import Commitment
from customers import exports
from customers.models import ActivityRate, ActivityType
from roles.models import RoleBlueprint

from . import charts, selectors, services
from . import dashboard as board
from .distributed import CHUNK_PARAMETER
from .forms import ActivityRateForm, CostModelForm, RunForm
from .models import CostModel, EconomicsRun

MANAGERS = (Persona.ADMIN, Persona.EXECUTIVE)


@persona_required(*MANAGERS)
def cost_model(request: HttpRequest) -> HttpResponse:
    model = services.cost_model_get()
    form = CostModelForm(request.POST or None, instance=model)
    if request.method == "POST":
        if form.is_valid():
            try:
                services.cost_model_update(user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "The cost model is saved. The next run uses it.")
                return redirect("economics:cost_model")
        messages.error(request, "Some values need attention; nothing was saved.")
    types = ActivityType.objects.prefetch_related(
        Prefetch("rates", ActivityRate.objects.order_by("-effective_from"))
    ).order_by("name")
    blueprints = RoleBlueprint.objects.prefetch_related(
        Prefetch("commitments", Commitment.objects.order_by("kind", "title"))
    ).annotate(total=Sum("commitments__yearly_cost"))
    return render(
        request,
        "economics/cost_model.html",
        {
            "form": form,
            "model": model,
            "activity_types": types,
            "rate_form": ActivityRateForm(),
            "blueprints": blueprints,
        },
    )


@require_POST
@persona_required(*MANAGERS)
def activity_rate_add(request: HttpRequest) -> HttpResponse:
    form = ActivityRateForm(request.POST)
    if form.is_valid():
        services.activity_rate_set(user=request.user, **form.cleaned_data)
        d = form.cleaned_data
        messages.success(
            request,
            f"{d['activity_type']} costs {d['unit_cost']} per unit from {d['effective_from']}.",
        )
    else:
        messages.error(request, "Choose an activity, a date and a unit cost of 0 or more.")
    return redirect("economics:cost_model")


@persona_required(*MANAGERS)
def run_list(request: HttpRequest) -> HttpResponse:
    runs = EconomicsRun.objects.select_related("requested_by")[:50]
    return render(
        request,
        "economics/run_list.html",
        {
            "runs": runs,
            "form": RunForm(),
            "current": selectors.current_run(),
            "active": selectors.active_run(),
        },
    )


@require_POST
@persona_required(*MANAGERS)
def run_start(request: HttpRequest) -> HttpResponse:
    form = RunForm(request.POST)
    back = _safe_next(request)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back or "economics:run_list")
    try:
        run = services.run_request(
            as_of=form.cleaned_data["as_of"],
            holdout_end=form.cleaned_data.get("holdout_end"),
            trigger=EconomicsRun.Trigger.UI,
            user=request.user,
        )
    except services.EconomicsRunBusy as exc:
        messages.warning(request, str(exc))
        return redirect(back or "economics:run_list")
    except Exception as exc:
        messages.error(request, f"The run failed: {exc}. The previous figures stay current.")
        return redirect(back or "economics:run_list")
    return redirect(back or reverse("economics:run_detail", args=[run.pk]))


def _safe_next(request: HttpRequest) -> str:
    """The ``next`` page to return to, if it is on this site."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else ""


@persona_required(*MANAGERS)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(EconomicsRun.objects.select_related("requested_by"), pk=pk)
    tracking = charts.holdout_figure(run.holdout) if run.holdout else None
    labels = {
        f.name: f.verbose_name for f in CostModel._meta.get_fields() if hasattr(f, "verbose_name")
    }
    labels[CHUNK_PARAMETER] = "customers per chunk, when split across workers"
    parameters = [(labels.get(k, k).capitalize(), v) for k, v in run.parameters.items()]
    return render(
        request,
        "economics/run_detail.html",
        {"run": run, "tracking_figure": tracking, "parameters": parameters},
    )


@persona_required(*MANAGERS)
def run_progress(request: HttpRequest, pk: int) -> HttpResponse:
    """The live progress bar; htmx asks again every second while the run is under way."""
    run = get_object_or_404(EconomicsRun, pk=pk)
    response = render(request, "economics/_run_progress.html", {"run": run})
    if run.active is None and request.htmx:
        # Finished: reload the page once so the figures appear.
        response["HX-Refresh"] = "true"
    return response


# --- the executive dashboard ---------------------------------------------------------

DASHBOARD_READERS = (Persona.ADMIN, Persona.EXECUTIVE, Persona.CX)


@persona_required(*DASHBOARD_READERS)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The current run's figures for the filtered customers; every chart drills down to
    the customer list with the same filter."""
    f = board.dashboard_filter(request.GET)
    run = selectors.current_run()
    context: dict = {
        "f": f,
        "run": run,
        "active": selectors.active_run(),
        "can_run": has_persona(request.user, *MANAGERS),
        "today": timezone.localdate(),
        "here": request.get_full_path(),
    }
    if run is None:
        return render(request, "economics/dashboard.html", context)
    currency = settings.TANGO_CURRENCY
    data = board.cached_dashboard(run, selectors.previous_run(run), f)
    links = {
        "best": board.drill_url(f, sort="-clv"),
        "losers": board.drill_url(f, unprofitable=True, sort="clv"),
        "newest": board.drill_url(f, sort="-acquired_on"),
    }
    points = board.sample_rows(data.sample)
    note = (
        f"{len(points):,} of {data.sample.total:,} customers, evenly spread over the CLV ranking"
        if data.sample.sampled
        else ""
    )
    group_cards = []
    for chart, dimension, heading, title, acquisition in GROUP_CARDS:
        rows = board.group_rows(data.breakdown.by[dimension], dimension, f)
        draw = charts.acquisition_figure if acquisition else charts.groups_figure
        group_cards.append(
            {
                "chart": chart,
                "figure": draw(rows, title=title, currency=currency),
                "label": title,
                "heading": heading,
                "rows": rows,
                "acquisition": acquisition,
            }
        )
    held = board.latest_holdout_run()
    health = board.model_health(run)
    context.update(
        {
            "data": data,
            "query": f.querystring(),
            "customers_url": board.drill_url(f),
            "links": links,
            "classes": board.class_rows(data.kpis, f),
            "group_cards": group_cards,
            "sample_note": note,
            "say": {
                "gained": board.short_money(data.whale["gained"]),
                "lost": board.short_money(data.whale["lost"]),
                "total": board.short_money(data.whale["total"]),
                "acquisition": board.short_money(data.kpis["acquisition_spend_last_year"]),
                "retention": board.short_money(data.kpis["retention_spend_last_year"]),
            },
            "figures": {
                "whale": charts.whale_figure(data.whale, currency=currency),
                "distribution": charts.distribution_figure(
                    data.distribution,
                    currency=currency,
                    losers_url=links["losers"],
                    winners_url=links["best"],
                ),
                "fit": charts.fit_figure(
                    points,
                    threshold=float(run.parameters.get("role_fit_threshold", 70)),
                    currency=currency,
                ),
                "spend": charts.spend_figure(
                    data.kpis,
                    currency=currency,
                    acquisition_url=links["newest"],
                    retention_url=board.drill_url(f),
                ),
                "holdout": board.cached(
                    f"holdout:{held.pk}", lambda: charts.holdout_figure(held.holdout)
                )
                if held and held.holdout
                else None,
            },
            "health": health,
            "health_fits": [
                ("BG/NBD", health["bgnbd"], "how often customers buy and when they drop out"),
                ("Gamma-Gamma", health["gamma_gamma"], "the margin per purchase"),
            ],
            "held": held,
            "choices": board.filter_choices(run),
            "blueprints": list(data.blueprints.items()),
            "managers": account_managers().values_list("pk", "first_name", "last_name"),
        }
    )
    return render(request, "economics/dashboard.html", context)


# chart, dimension, table heading, chart title, acquisition quality (else profitability)
GROUP_CARDS = [
    ("segments", "segment", "Segment", "Profit and lifetime value by segment", False),
    ("blueprints", "blueprint", "Role", "Profit and lifetime value by role", False),
    ("reps", "rep", "Sales rep", "Acquisition quality by sales rep", True),
    ("channels", "channel", "Channel", "Acquisition quality by acquisition channel", True),
]


@persona_required(*DASHBOARD_READERS)
def dashboard_trends(request: HttpRequest) -> HttpResponse:
    """The KPIs across runs for the dashboard's filter; loaded after the page."""
    f = board.dashboard_filter(request.GET)
    run = selectors.current_run()
    rows = board.cached_trends(run, f) if run else []
    figure = charts.trends_figure(rows, currency=settings.TANGO_CURRENCY) if rows else None
    return render(
        request,
        "economics/_dashboard_trends.html",
        {
            "figure": figure,
            "rows": rows,
            "f": f,
            "query": f.querystring(),
            "customers_url": board.drill_url(f),
        },
    )


@persona_required(*DASHBOARD_READERS)
def dashboard_data(request: HttpRequest, chart: str, fmt: str) -> HttpResponse:
    """The data of one dashboard chart, for the same filter, as CSV or XLSX."""
    if chart not in board.EXPORTS or fmt not in exports.FORMATS:
        raise Http404("No such chart or format")
    run = selectors.current_run()
    if run is None:
        raise Http404("No economics run yet")
    f = board.dashboard_filter(request.GET)
    header, rows = board.export_table(chart, run, f)
    audit_record(
        action=AuditAction.EXPORT,
        actor=request.user,
        request=request,
        detail={
            "what": f"dashboard {chart}",
            "format": fmt,
            "filter": request.GET.dict(),
            "rows": len(rows),
        },
    )
    return exports.export_response(
        fmt=fmt, filename=f"dashboard-{chart}-{run.as_of.isoformat()}", header=header, rows=rows
    )
