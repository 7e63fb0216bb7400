"""The worklist and the case page. Small function views: check access, validate the
form, call a service, redirect or render."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.decorators import persona_required
from accounts.personas import Persona, has_persona
from customers.models import Customer
from economics.models import CustomerClass, CustomerFlag, FlagKind
from economics.selectors import current_run
from roles.access import can_edit_charters_of

from . import selectors, services
from .access import (
    CASE_READERS,
    WORKERS,
    WORKLIST_READERS,
    can_approve_let_go,
    can_work_cases,
    get_case_for_user,
)
from .filters import CASE_CHOICES, WorklistFilter
from .forms import BulkActionForm, CaseAssignForm, CaseDecideForm, FlagDecisionForm, NoteForm
from .models import Case, ExitChecklistItem

PAGE_SIZE = 50


# --- the worklist ---------------------------------------------------------------------


@persona_required(*WORKLIST_READERS)
def worklist(request: HttpRequest) -> HttpResponse:
    filters = WorklistFilter.from_query(request.GET)
    customers = selectors.worklist(user=request.user, filters=filters)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    is_approver = has_persona(request.user, Persona.EXECUTIVE)
    awaiting = selectors.awaiting_approval(user=request.user) if is_approver else 0
    return render(
        request,
        "cx/worklist.html",
        {
            "page": page,
            "f": filters,
            "sorts": filters.sort_headers(),
            "filters": filters.querystring(),
            "choices": selectors.worklist_choices(),
            "classes": CustomerClass.choices,
            "flag_kinds": FlagKind.choices,
            "case_choices": CASE_CHOICES,
            "run": current_run(),
            "can_work": can_work_cases(request.user),
            "bulk_form": BulkActionForm(),
            "is_approver": is_approver,
            "awaiting_approval": awaiting,
            "today": timezone.localdate(),
        },
    )


def _worklist_url(params) -> str:
    filters = WorklistFilter.from_query(params)
    query = filters.querystring()
    page = params.get("page", "")
    if page.isdigit() and page != "1":
        query = f"{query}&page={page}" if query else f"page={page}"
    return reverse("cx:worklist") + (f"?{query}" if query else "")


def _names(customers: list[Customer], limit: int = 8) -> str:
    names = ", ".join(c.name for c in customers[:limit])
    return names + ("…" if len(customers) > limit else "")


def _report(request: HttpRequest, result: services.BulkResult, done: str) -> None:
    if result.done:
        messages.success(request, done)
    if result.skipped:
        reasons = sorted({reason for _, reason in result.skipped})
        messages.warning(
            request,
            f"{len(result.skipped)} skipped ({'; '.join(reasons)}): "
            f"{_names([c for c, _ in result.skipped])}.",
        )


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


@require_POST
@persona_required(*WORKERS)
def worklist_bulk(request: HttpRequest) -> HttpResponse:
    """Open cases, take them, snooze or accept flags for the ticked customers."""
    back = _worklist_url(request.POST)
    form = BulkActionForm(request.POST, customer_ids=request.POST.getlist("customers"))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    ids = form.cleaned_data["customers"]
    customers = list(Customer.objects.visible_to(request.user).filter(pk__in=ids).order_by("name"))
    action = form.cleaned_data["action"]
    try:
        if action == "open_cases":
            result = services.cases_open(customers=customers, user=request.user)
            _report(request, result, f"Cases opened for {_plural(len(result.done), 'customer')}.")
        elif action == "assign_to_me":
            result = services.cases_assign(
                customers=customers, assignee=request.user, user=request.user
            )
            _report(request, result, f"{_plural(len(result.done), 'case')} assigned to you.")
        else:
            decision = {
                "snooze": CustomerFlag.Decision.SNOOZED,
                "accept": CustomerFlag.Decision.ACCEPTED,
            }[action]
            until = form.cleaned_data["until"] if action == "snooze" else None
            result = services.customers_flags_decide(
                customers=customers, decision=decision, user=request.user, snoozed_until=until
            )
            verb = f"snoozed until {until:%Y-%m-%d}" if until else "accepted"
            _report(
                request,
                result,
                f"{_plural(result.flags, 'flag')} of {_plural(len(result.done), 'customer')} "
                f"{verb}.",
            )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    return redirect(back)


@require_POST
@persona_required(*WORKERS)
def case_open(request: HttpRequest, customer_pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer.objects.visible_to(request.user), pk=customer_pk)
    try:
        case = services.case_open(customer=customer, user=request.user, assignee=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect(_worklist_url(request.POST))
    messages.success(request, f"Case opened for {customer.name} and assigned to you.")
    return redirect("cx:case_detail", pk=case.pk)


# --- a case ---------------------------------------------------------------------------


def _case_page(request: HttpRequest, case: Case, **bound) -> HttpResponse:
    user = request.user
    context = selectors.case_detail(case)

    def url(name: str) -> str:
        return reverse(f"cx:{name}", args=[case.pk])

    works = can_work_cases(user)
    forms: dict = {}
    if works and case.in_progress:
        forms["assign_form"] = CaseAssignForm(
            workers=selectors.case_workers(),
            action=url("case_assign"),
            initial={"assignee": case.assignee_id},
        )
        forms["note_form"] = NoteForm(
            action=url("case_note"),
            label="Add the note",
            css="btn-outline-secondary",
            required=True,
            note_label="Note",
        )
    if works and case.status == Case.Status.OPEN:
        forms["review_form"] = NoteForm(
            action=url("case_start_review"), label="Start the review", testid="start-review"
        )
    if works and case.status == Case.Status.UNDER_REVIEW:
        forms["decide_form"] = CaseDecideForm(action=url("case_decide"))
    if works and case.status == Case.Status.DECIDED and not case.is_released:
        forms["reopen_form"] = NoteForm(
            action=url("case_reopen"), label="Back to review", css="btn-outline-secondary"
        )
    if (
        works
        and case.status == Case.Status.DECIDED
        and (case.decision != Case.Decision.LET_GO or case.is_released)
    ):
        forms["close_form"] = NoteForm(
            action=url("case_close"), label="Mark the case done", testid="close-case"
        )
    if can_approve_let_go(user, case):
        forms["approve_form"] = NoteForm(
            action=url("case_approve"),
            label="Approve: let go",
            css="btn-danger",
            testid="approve-let-go",
        )
        forms["reject_form"] = NoteForm(
            action=url("case_reject"),
            label="Reject",
            css="btn-outline-secondary",
            required=True,
            note_label="Why not",
            testid="reject-let-go",
        )
    forms.update(bound)
    decide_flags = works and case.in_progress
    open_pks = {f.pk for f in context["open_flags"]}
    return render(
        request,
        "cx/case_detail.html",
        {
            **context,
            **forms,
            "can_work": works,
            "flag_rows": [
                (flag, FlagDecisionForm(auto_id=f"id_flag{flag.pk}_%s") if decide_flags else None)
                for flag in context["open_flags"]
            ],
            "cleared_flags": [f for f in context["case_flags"] if f.pk not in open_pks],
            "can_edit_charter": can_edit_charters_of(user, case.customer),
            "checklist_left": sum(1 for i in context["checklist"] if not i.is_done),
            "today": timezone.localdate(),
        },
    )


def _errors(request: HttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


@persona_required(*CASE_READERS)
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_page(request, get_case_for_user(request.user, pk))


@require_POST
@persona_required(*CASE_READERS)
def case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True)
    form = CaseAssignForm(request.POST, workers=selectors.case_workers(), action="")
    if form.is_valid():
        try:
            services.case_assign(
                case=case, assignee=form.cleaned_data["assignee"], user=request.user
            )
        except ValidationError as exc:
            _errors(request, exc)
    else:
        messages.error(request, "Choose someone in the CX team.")
    return redirect("cx:case_detail", pk=case.pk)


@require_POST
@persona_required(*CASE_READERS)
def case_start_review(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True)
    try:
        services.case_start_review(case=case, user=request.user, note=request.POST.get("note", ""))
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("cx:case_detail", pk=case.pk)


@require_POST
@persona_required(*CASE_READERS)
def case_decide(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True)
    form = CaseDecideForm(request.POST, action=reverse("cx:case_decide", args=[case.pk]))
    if form.is_valid():
        try:
            case = services.case_decide(case=case, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if case.awaits_approval:
                messages.success(request, "Let-go proposed. An executive must now approve it.")
            else:
                messages.success(request, f"Decided: {case.get_decision_display()}.")
            return redirect("cx:case_detail", pk=case.pk)
    return _case_page(request, case, decide_form=form)


@require_POST
@persona_required(*CASE_READERS)
def case_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True)
    try:
        services.case_reopen(case=case, user=request.user, note=request.POST.get("note", ""))
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, "Back to review; the decision is withdrawn.")
    return redirect("cx:case_detail", pk=case.pk)


@require_POST
@persona_required(*CASE_READERS)
def case_approve(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk)
    if not has_persona(request.user, Persona.EXECUTIVE):
        raise PermissionDenied
    try:
        services.case_approve_let_go(
            case=case, user=request.user, note=request.POST.get("note", "")
        )
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(
            request, f"Approved. {case.customer.name} is released; the exit checklist starts."
        )
    return redirect("cx:case_detail", pk=case.pk)


@require_POST
@persona_required(*CASE_READERS)
def case_reject(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk)
    if not has_persona(request.user, Persona.EXECUTIVE):
        raise PermissionDenied
    url = reverse("cx:case_reject", args=[case.pk])
    form = NoteForm(request.POST, action=url, label="Reject", required=True, note_label="Why not")
    if form.is_valid():
        try:
            services.case_reject_let_go(
                case=case, user=request.user, reason=form.cleaned_data["note"]
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Rejected. The case is back under review with your reason.")
            return redirect("cx:case_detail", pk=case.pk)
    return _case_page(request, case, reject_form=form)


@require_POST
@persona_required(*CASE_READERS)
def case_close(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True)
    try:
        services.case_close(case=case, user=request.user, note=request.POST.get("note", ""))
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, "The case is done.")
    return redirect("cx:case_detail", pk=case.pk)


@require_POST
@persona_required(*CASE_READERS)
def case_note(request: HttpRequest, pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True)
    try:
        services.case_note_add(case=case, note=request.POST.get("note", ""), user=request.user)
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("cx:case_detail", pk=case.pk)


@require_POST
@persona_required(*CASE_READERS)
def checklist_tick(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True)
    item = get_object_or_404(ExitChecklistItem, pk=item_pk, case=case)
    try:
        services.checklist_item_tick(
            item=item, done=request.POST.get("done") == "1", user=request.user
        )
    except ValidationError as exc:
        _errors(request, exc)
    return redirect(reverse("cx:case_detail", args=[case.pk]) + "#checklist")


@require_POST
@persona_required(*CASE_READERS)
def case_flag_decide(request: HttpRequest, pk: int, flag_pk: int) -> HttpResponse:
    case = get_case_for_user(request.user, pk, write=True)
    flag = get_object_or_404(CustomerFlag, pk=flag_pk, customer_id=case.customer_id)
    form = FlagDecisionForm(request.POST)
    if form.is_valid():
        try:
            services.case_flag_decide(case=case, flag=flag, user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _errors(request, exc)
        else:
            messages.success(request, f"{flag.get_kind_display()}: decision recorded.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"{flag.get_kind_display()}: {error}")
    return redirect(reverse("cx:case_detail", args=[case.pk]) + "#flags")
