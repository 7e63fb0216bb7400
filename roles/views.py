"""Blueprints (the role library) and charters. Small function views: check access,
validate the form, call a service, redirect or render."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.decorators import READERS, persona_required
from customers import selectors as customer_selectors
from customers.filters import CustomerFilter

from . import selectors, services
from .access import (
    EDITORS,
    can_edit_blueprints,
    can_edit_charters_of,
    get_blueprint_for_user,
    get_charter_for_user,
)
from .consistency import check_blueprint
from .defaults import COMMITMENT_DEFAULTS, EXPECTATION_DEFAULTS
from .forms import (
    BlueprintForm,
    CharterAgreeForm,
    CharterAssignForm,
    CommitmentFormSet,
    ExpectationFormSet,
    OverrideFormSet,
    ShareLinkForm,
    TargetOverridesForm,
    catalogue_for_page,
    first_param,
    plain_initial,
)
from .models import Charter, CharterShareLink, LifecycleStage, RoleBlueprint

# --- blueprints -----------------------------------------------------------------------


@persona_required(*READERS)
def blueprint_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "roles/blueprint_list.html",
        {"blueprints": selectors.blueprint_list(), "can_edit": can_edit_blueprints(request.user)},
    )


@persona_required(*READERS)
def blueprint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    get_blueprint_for_user(request.user, pk)
    blueprint = selectors.blueprint_detail(pk)
    return render(
        request,
        "roles/blueprint_detail.html",
        {
            "blueprint": blueprint,
            "expectations": selectors.effective_expectations(blueprint),
            "commitments": selectors.effective_commitments(blueprint),
            "findings": selectors.blueprint_findings(blueprint),
            "commitment_cost": sum(
                (c.yearly_cost for c in blueprint.commitments.all()), Decimal("0")
            ),
            "can_edit": can_edit_blueprints(request.user),
        },
    )


def _expectation_initial(blueprint: RoleBlueprint | None) -> list[dict]:
    existing = {e.stage: e for e in blueprint.expectations.all()} if blueprint else {}
    rows = []
    for stage in LifecycleStage:
        e = existing.get(stage.value)
        if e is not None:
            rows.append(
                {
                    "stage": stage.value,
                    "metric": e.metric,
                    "param": first_param(e.metric_params),
                    "target": e.target,
                    "direction": e.direction,
                    "weight": e.weight,
                    "excluded": e.excluded,
                    "exclusion_reason": e.exclusion_reason,
                }
            )
        else:
            d = EXPECTATION_DEFAULTS.get(stage.value, {})
            rows.append(
                {
                    "stage": stage.value,
                    "metric": d.get("metric", ""),
                    "param": first_param(d.get("metric_params")),
                    "target": d.get("target"),
                    "direction": d.get("direction", "at_least"),
                    "weight": Decimal("1"),
                    "excluded": d.get("excluded", False),
                    "exclusion_reason": d.get("exclusion_reason", ""),
                }
            )
    return rows


def _commitment_initial(blueprint: RoleBlueprint | None) -> list[dict]:
    if blueprint is None:
        return [
            {
                **{k: v for k, v in d.items() if k != "metric_params"},
                "param": first_param(d.get("metric_params")),
                "direction": d.get("direction", "at_least"),
                "weight": Decimal("1"),
                "yearly_cost": d.get("yearly_cost", Decimal("0")),
            }
            for d in COMMITMENT_DEFAULTS
        ]
    return [
        {
            "id": c.pk,
            "kind": c.kind,
            "title": c.title,
            "description": c.description,
            "metric": c.metric,
            "param": first_param(c.metric_params),
            "target": c.target,
            "direction": c.direction,
            "weight": c.weight,
            "yearly_cost": c.yearly_cost,
        }
        for c in blueprint.commitments.order_by("kind", "title")
    ]


def _blueprint_form_page(request: HttpRequest, blueprint: RoleBlueprint | None) -> HttpResponse:
    if request.method == "POST":
        form = BlueprintForm(request.POST, instance=blueprint)
        expectations = ExpectationFormSet(request.POST, prefix="exp")
        commitments = CommitmentFormSet(request.POST, prefix="com")
        if form.is_valid() and expectations.is_valid() and commitments.is_valid():
            try:
                saved = services.blueprint_save(
                    blueprint=blueprint,
                    fields=form.cleaned_data,
                    expectations={f.cleaned_data["stage"]: f.to_values() for f in expectations},
                    commitments=[
                        f.to_values()
                        for f in commitments
                        if f.cleaned_data.get("title") or f.cleaned_data.get("id")
                    ],
                    user=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"“{saved.name}” is saved.")
                return redirect("roles:blueprint_detail", pk=saved.pk)
        messages.error(request, "Some fields need attention; nothing was saved.")
    else:
        form = BlueprintForm(instance=blueprint)
        expectations = ExpectationFormSet(
            initial=plain_initial(_expectation_initial(blueprint)), prefix="exp"
        )
        commitments = CommitmentFormSet(
            initial=plain_initial(_commitment_initial(blueprint)), prefix="com"
        )
    findings = selectors.blueprint_findings(blueprint) if blueprint and not form.is_bound else []
    return render(
        request,
        "roles/blueprint_form.html",
        {
            "blueprint": blueprint,
            "form": form,
            "expectations": expectations,
            "commitments": commitments,
            "catalogue": catalogue_for_page(),
            "findings": findings,
        },
    )


@persona_required(*READERS)
def blueprint_create(request: HttpRequest) -> HttpResponse:
    if not can_edit_blueprints(request.user):
        raise PermissionDenied
    return _blueprint_form_page(request, None)


@persona_required(*READERS)
def blueprint_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _blueprint_form_page(request, get_blueprint_for_user(request.user, pk, write=True))


@require_POST
@persona_required(*READERS)
def blueprint_check(request: HttpRequest) -> HttpResponse:
    """The consistency findings for the form as it stands, while it is being edited."""
    if not can_edit_blueprints(request.user):
        raise PermissionDenied
    p = request.POST
    targets = {name: p.get(name, "") for name in services.BLUEPRINT_TARGET_FIELDS}
    expectations = []
    for i in range(_count(p.get("exp-TOTAL_FORMS"))):
        stage = p.get(f"exp-{i}-stage", "")
        expectations.append(
            {
                "stage": stage,
                "stage_label": LifecycleStage(stage).label
                if stage in LifecycleStage.values
                else stage,
                "metric": p.get(f"exp-{i}-metric", ""),
                "target": p.get(f"exp-{i}-target", ""),
                "weight": p.get(f"exp-{i}-weight", ""),
                "excluded": p.get(f"exp-{i}-excluded") in ("on", "true", "1"),
                "exclusion_reason": p.get(f"exp-{i}-exclusion_reason", ""),
            }
        )
    commitments = [
        {"title": p.get(f"com-{i}-title", ""), "yearly_cost": p.get(f"com-{i}-yearly_cost", "")}
        for i in range(_count(p.get("com-TOTAL_FORMS")))
        if p.get(f"com-{i}-title") and not p.get(f"com-{i}-DELETE")
    ]
    findings = check_blueprint(targets, expectations, commitments, currency=settings.TANGO_CURRENCY)
    return render(request, "roles/_findings.html", {"findings": findings, "live": True})


def _count(raw: str | None) -> int:
    try:
        return max(0, min(int(raw or 0), 200))
    except ValueError:
        return 0


@require_POST
@persona_required(*READERS)
def blueprint_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    blueprint = get_blueprint_for_user(request.user, pk, write=True)
    copy = services.blueprint_duplicate(blueprint=blueprint, user=request.user)
    messages.success(request, f"Copied to “{copy.name}”. Rename it and adjust what differs.")
    return redirect("roles:blueprint_edit", pk=copy.pk)


@require_POST
@persona_required(*READERS)
def blueprint_retire(request: HttpRequest, pk: int) -> HttpResponse:
    blueprint = get_blueprint_for_user(request.user, pk, write=True)
    if request.POST.get("action") == "reactivate":
        services.blueprint_reactivate(blueprint=blueprint, user=request.user)
        messages.success(request, f"“{blueprint.name}” can be assigned again.")
    else:
        services.blueprint_retire(blueprint=blueprint, user=request.user)
        messages.success(
            request,
            f"“{blueprint.name}” is retired: existing charters keep it, new ones cannot use it.",
        )
    return redirect("roles:blueprint_detail", pk=blueprint.pk)


# --- charters -------------------------------------------------------------------------


@persona_required(*READERS)
def charter_assign(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer = customer_selectors.get_customer_for_user(request.user, customer_pk)
    if not can_edit_charters_of(request.user, customer):
        raise PermissionDenied
    form = CharterAssignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            charter = services.charter_create(
                customer=customer, blueprint=form.cleaned_data["blueprint"], user=request.user
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Draft charter created. Adjust it to this customer.")
            return redirect("roles:charter_detail", pk=charter.pk)
    return render(request, "roles/charter_assign.html", {"customer": customer, "form": form})


@require_POST
@persona_required(*EDITORS)
def charter_assign_many(request: HttpRequest) -> HttpResponse:
    """Assign a blueprint to every customer of the filtered list the user may change."""
    form = CharterAssignForm(request.POST, prefix="assign")
    filters = CustomerFilter.from_query(request.POST)
    back = reverse("customers:list") + "?" + filters.querystring()
    if not form.is_valid():
        messages.error(request, "Choose a role blueprint to assign.")
        return redirect(back)
    customers = [
        c
        for c in customer_selectors.customer_list(user=request.user, filters=filters)
        if can_edit_charters_of(request.user, c)
    ]
    if not customers:
        raise PermissionDenied
    made, skipped = services.charters_assign(
        customers=customers, blueprint=form.cleaned_data["blueprint"], user=request.user
    )
    messages.success(
        request,
        f"“{form.cleaned_data['blueprint']}” assigned as a draft to {len(made)} customer"
        f"{'s' if len(made) != 1 else ''}.",
    )
    if skipped:
        messages.warning(
            request,
            f"{len(skipped)} skipped because a charter is already in the making: "
            + ", ".join(c.name for c, _ in skipped[:10])
            + ("…" if len(skipped) > 10 else ""),
        )
    return redirect(back)


@persona_required(*READERS)
def charter_detail(request: HttpRequest, pk: int) -> HttpResponse:
    charter = get_charter_for_user(request.user, pk)
    versions = selectors.charter_versions(charter.customer)
    return render(
        request,
        "roles/charter_detail.html",
        {
            "charter": charter,
            "customer": charter.customer,
            "expectations": selectors.effective_expectations(charter.blueprint, charter),
            "commitments": selectors.effective_commitments(charter.blueprint, charter),
            "targets": selectors.effective_targets(charter),
            "commitment_cost": selectors.commitments_yearly_cost(charter),
            "events": charter.events.select_related("by")[:50],
            "versions": versions,
            "share_links": charter.share_links.all()[:10],
            "can_edit": can_edit_charters_of(request.user, charter.customer),
            "agree_form": CharterAgreeForm(),
            "share_form": ShareLinkForm(),
            "new_token": request.session.pop(f"share-token-{charter.pk}", None),
            "now": timezone.now(),
        },
    )


@persona_required(*READERS)
def charter_edit(request: HttpRequest, pk: int) -> HttpResponse:
    charter = get_charter_for_user(request.user, pk, write=True)
    if charter.status != Charter.Status.DRAFT:
        messages.error(request, "Only a draft can be changed. Start a new version instead.")
        return redirect("roles:charter_detail", pk=charter.pk)
    expectations = selectors.effective_expectations(charter.blueprint)
    commitments = selectors.effective_commitments(charter.blueprint)
    exp_over = {o.expectation_id: o for o in charter.expectation_overrides.all()}
    com_over = {o.commitment_id: o for o in charter.commitment_overrides.all()}
    if request.method == "POST":
        targets_form = TargetOverridesForm(request.POST)
        exp_forms = OverrideFormSet(request.POST, prefix="exp")
        com_forms = OverrideFormSet(request.POST, prefix="com")
        if len(exp_forms.forms) != len(expectations) or len(com_forms.forms) != len(commitments):
            # A page from before the blueprint changed, or a form tampered with: the rows
            # no longer line up with the blueprint's items, so nothing can be saved.
            messages.error(request, "This page was out of date; nothing was saved. Try again.")
            return redirect("roles:charter_edit", pk=charter.pk)
        if targets_form.is_valid() and exp_forms.is_valid() and com_forms.is_valid():
            notes = targets_form.cleaned_data.pop("notes")
            try:
                services.charter_update_overrides(
                    charter=charter,
                    target_overrides=targets_form.cleaned_data,
                    expectation_overrides={
                        f.cleaned_data["source_id"]: f.cleaned_data for f in exp_forms
                    },
                    commitment_overrides={
                        f.cleaned_data["source_id"]: f.cleaned_data for f in com_forms
                    },
                    notes=notes,
                    user=request.user,
                )
            except ValidationError as exc:
                targets_form.add_error(None, exc)
            else:
                messages.success(request, "This customer's targets are saved.")
                return redirect("roles:charter_detail", pk=charter.pk)
        messages.error(request, "Some fields need attention; nothing was saved.")
    else:
        targets_form = TargetOverridesForm(
            initial={**(charter.target_overrides or {}), "notes": charter.notes}
        )
        targets_form.initial = plain_initial([targets_form.initial])[0]
        exp_forms = OverrideFormSet(
            prefix="exp",
            initial=[
                _override_initial(i.source_id, exp_over.get(i.source_id)) for i in expectations
            ],
        )
        com_forms = OverrideFormSet(
            prefix="com",
            initial=[
                _override_initial(i.source_id, com_over.get(i.source_id)) for i in commitments
            ],
        )
    return render(
        request,
        "roles/charter_edit.html",
        {
            "charter": charter,
            "customer": charter.customer,
            "targets_form": targets_form,
            "blueprint_targets": {
                n: getattr(charter.blueprint, n) for n in services.BLUEPRINT_TARGET_FIELDS
            },
            "expectation_rows": list(zip(expectations, exp_forms, strict=True)),
            "commitment_rows": list(zip(commitments, com_forms, strict=True)),
            "exp_management": exp_forms.management_form,
            "com_management": com_forms.management_form,
        },
    )


def _override_initial(source_id: int, override) -> dict:
    if override is None:
        return {"source_id": source_id}
    return {
        "source_id": source_id,
        "target": override.target,
        "weight": getattr(override, "weight", None),
        "yearly_cost": getattr(override, "yearly_cost", None),
        "excluded": override.excluded,
        "reason": override.reason,
    }


@require_POST
@persona_required(*READERS)
def charter_transition(request: HttpRequest, pk: int) -> HttpResponse:
    charter = get_charter_for_user(request.user, pk, write=True)
    action = request.POST.get("action")
    try:
        if action == "propose":
            services.charter_propose(charter=charter, user=request.user)
            messages.success(request, "Proposed to the customer. Record their agreement here.")
        elif action == "withdraw":
            services.charter_withdraw(
                charter=charter, user=request.user, reason=request.POST.get("reason", "")
            )
            messages.success(request, "Back to draft.")
        elif action == "agree":
            form = CharterAgreeForm(request.POST)
            if not form.is_valid():
                for errors in form.errors.values():
                    for error in errors:
                        messages.error(request, error)
                return redirect("roles:charter_detail", pk=charter.pk)
            services.charter_agree(charter=charter, user=request.user, **form.cleaned_data)
            messages.success(request, "Agreed. This is now the customer's charter.")
        elif action == "new_version":
            draft = services.charter_new_version(charter=charter, user=request.user)
            messages.success(request, f"Version {draft.version} started as a draft.")
            return redirect("roles:charter_edit", pk=draft.pk)
        else:
            raise Http404("Unknown action")
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect("roles:charter_detail", pk=charter.pk)


@persona_required(*READERS)
def charter_print(request: HttpRequest, pk: int) -> HttpResponse:
    charter = get_charter_for_user(request.user, pk)
    return render(request, "roles/charter_print.html", _charter_page_context(charter))


def _charter_page_context(charter: Charter) -> dict:
    return {
        "charter": charter,
        "customer": charter.customer,
        "targets": selectors.effective_targets(charter),
        "scorecard": selectors.mutual_scorecard(charter.customer, charter=charter),
    }


@persona_required(*READERS)
def charter_compare(request: HttpRequest, pk: int) -> HttpResponse:
    charter = get_charter_for_user(request.user, pk)
    versions = selectors.charter_versions(charter.customer)
    by_version = {c.version: c for c in versions}
    try:
        a = by_version[int(request.GET.get("a", charter.version - 1))]
        b = by_version[int(request.GET.get("b", charter.version))]
    except (KeyError, ValueError):
        messages.info(request, "Choose two versions of this customer's charter to compare.")
        a = b = charter
    snap_a, snap_b = selectors.charter_snapshot(a), selectors.charter_snapshot(b)
    return render(
        request,
        "roles/charter_compare.html",
        {
            "charter": charter,
            "customer": charter.customer,
            "versions": versions,
            "a": a,
            "b": b,
            "differences": selectors.compare_snapshots(snap_a, snap_b),
        },
    )


@require_POST
@persona_required(*READERS)
def share_link_create(request: HttpRequest, pk: int) -> HttpResponse:
    charter = get_charter_for_user(request.user, pk, write=True)
    form = ShareLinkForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A share link lasts from 1 to 365 days.")
        return redirect("roles:charter_detail", pk=charter.pk)
    _, token = services.share_link_create(
        charter=charter, user=request.user, days=form.cleaned_data["days"]
    )
    # Shown once on the next page; only its hash is stored.
    request.session[f"share-token-{charter.pk}"] = request.build_absolute_uri(
        reverse("roles:shared_charter", args=[token])
    )
    return redirect("roles:charter_detail", pk=charter.pk)


@require_POST
@persona_required(*READERS)
def share_link_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    link = get_object_or_404(CharterShareLink, pk=pk)
    charter = get_charter_for_user(request.user, link.charter_id, write=True)
    services.share_link_revoke(link=link, user=request.user)
    messages.success(request, "The link no longer opens.")
    return redirect("roles:charter_detail", pk=charter.pk)


def shared_charter(request: HttpRequest, token: str) -> HttpResponse:
    """The customer's read-only view of their charter and how both sides keep it."""
    link = services.share_link_open(token=token)
    if link is None:
        return render(request, "roles/shared_gone.html", status=404)
    context = _charter_page_context(link.charter)
    context["shared"] = True
    context["link"] = link
    response = render(request, "roles/charter_print.html", context)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    response["Cache-Control"] = "private, no-store"
    return response
