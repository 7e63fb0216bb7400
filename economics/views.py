"""The cost model and economics runs: admins and executives."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import persona_required
from accounts.personas import Persona
from commitments.models import Commitment
from customers.models import ActivityRate, ActivityType
from roles.models import RoleBlueprint

from . import charts, selectors, services
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
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(request.POST.get("next") or "economics:run_list")
    try:
        run = services.run_request(
            as_of=form.cleaned_data["as_of"],
            holdout_end=form.cleaned_data.get("holdout_end"),
            trigger=EconomicsRun.Trigger.UI,
            user=request.user,
        )
    except services.EconomicsRunBusy as exc:
        messages.warning(request, str(exc))
        return redirect("economics:run_list")
    except Exception as exc:
        messages.error(request, f"The run failed: {exc}. The previous figures stay current.")
        return redirect("economics:run_list")
    return redirect("economics:run_detail", pk=run.pk)


@persona_required(*MANAGERS)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(EconomicsRun.objects.select_related("requested_by"), pk=pk)
    tracking = charts.holdout_figure(run.holdout) if run.holdout else None
    labels = {
        f.name: f.verbose_name for f in CostModel._meta.get_fields() if hasattr(f, "verbose_name")
    }
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
