from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import READERS, persona_required
from roles.selectors import current_charter

from . import selectors
from .models import Customer

PAGE_SIZE = 50


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
        },
    )
