from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.decorators import READERS, persona_required
from accounts.personas import Persona, has_persona
from accounts.selectors import account_managers
from audit.services import AuditAction, audit_record
from cx.selectors import cases_for_customer
from economics.models import CustomerClass, FlagKind
from economics.selectors import current_run, latest_score, open_flags
from roles.access import can_edit_charters_of
from roles.forms import CharterAssignForm
from roles.models import RoleBlueprint
from roles.selectors import cached_scorecard, current_charter

from . import charts, exports, selectors
from .filters import CustomerFilter
from .models import Customer

PAGE_SIZE = 50


def can_assign_roles(user) -> bool:
    return has_persona(user, Persona.ACCOUNT_MANAGER, Persona.ADMIN)


@persona_required(*READERS)
def customer_list(request: HttpRequest) -> HttpResponse:
    filters = CustomerFilter.from_query(request.GET)
    customers = selectors.CustomerPages(user=request.user, filters=filters)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "customers/customer_list.html",
        {
            "page": page,
            "f": filters,
            "choices": selectors.filter_choices(),
            "statuses": Customer.Status.choices,
            "classes": CustomerClass.choices,
            "flag_kinds": FlagKind.choices,
            "blueprints": RoleBlueprint.objects.order_by("name").values_list("pk", "name"),
            "managers": account_managers().values_list("pk", "first_name", "last_name"),
            "assign_form": (
                CharterAssignForm(prefix="assign") if can_assign_roles(request.user) else None
            ),
            "filters": filters.querystring(),
            "has_run": current_run() is not None,
        },
    )


@persona_required(*READERS)
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = selectors.get_customer_for_user(request.user, pk)
    score = latest_score(customer)
    timeline = selectors.customer_timeline(customer)
    return render(
        request,
        "customers/customer_detail.html",
        {
            "customer": customer,
            "totals": selectors.customer_totals(customer),
            "history": selectors.customer_recent_history(customer),
            "charter": current_charter(customer),
            "scorecard": cached_scorecard(customer),
            "can_edit_charter": can_edit_charters_of(request.user, customer),
            "score": score,
            "flags": open_flags(customer),
            "cases": list(cases_for_customer(customer)[:5]),
            "waterfall": (
                charts.economics_waterfall(score, currency=settings.TANGO_CURRENCY)
                if score
                else None
            ),
            "timeline": charts.history_timeline(timeline) if timeline else None,
            "recent_events": timeline[:25],
            "horizon_hint": (
                f"in the next {score.run.parameters.get('forecast_horizon_months', 36)} months"
                if score
                else ""
            ),
        },
    )


@persona_required(*READERS)
def customer_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The customer list as filtered on the page, to CSV or XLSX."""
    customers = selectors.customer_list(
        user=request.user, filters=CustomerFilter.from_query(request.GET)
    )
    response = exports.customers_export_response(customers, fmt=fmt)
    audit_record(
        action=AuditAction.EXPORT,
        actor=request.user,
        request=request,
        detail={
            "what": "customers",
            "format": fmt,
            "filter": request.GET.dict(),
            "rows": customers.count(),
        },
    )
    return response
