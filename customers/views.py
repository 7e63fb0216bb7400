from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import READERS, persona_required
from accounts.personas import Persona, has_persona
from roles.access import can_edit_charters_of
from roles.forms import CharterAssignForm
from roles.selectors import current_charter, mutual_scorecard

from . import exports, selectors
from .models import Customer

PAGE_SIZE = 50


def can_assign_roles(user) -> bool:
    return has_persona(user, Persona.ACCOUNT_MANAGER, Persona.ADMIN)


@persona_required(*READERS)
def customer_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    segment = request.GET.get("segment", "")
    status = request.GET.get("status", "")
    customers = selectors.customer_list(
        user=request.user, query=query, segment=segment, status=status
    )
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "customers/customer_list.html",
        {
            "page": page,
            "q": query,
            "segment": segment,
            "status": status,
            "segments": selectors.segments(),
            "statuses": Customer.Status.choices,
            "assign_form": CharterAssignForm() if can_assign_roles(request.user) else None,
            "filters": request.GET.urlencode(),
        },
    )


@persona_required(*READERS)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.get_customer_for_user(request.user, pk)
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "totals": selectors.customer_totals(customer),
            "history": selectors.customer_recent_history(customer),
            "charter": current_charter(customer),
            "scorecard": mutual_scorecard(customer),
            "can_edit_charter": can_edit_charters_of(request.user, customer),
        },
    )


@persona_required(*READERS)
def customer_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The customer list as filtered on the page, to CSV or XLSX."""
    customers = selectors.customer_list(
        user=request.user,
        query=request.GET.get("q", "").strip(),
        segment=request.GET.get("segment", ""),
        status=request.GET.get("status", ""),
    )
    return exports.customers_export_response(customers, fmt=fmt)
