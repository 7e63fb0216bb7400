"""What the REST API reads, scoped to the user. No side effects."""

from __future__ import annotations

import datetime as dt

from django.db.models import Model, Prefetch, Q, QuerySet

from accounts.personas import Persona, has_persona, sees_all_customers
from customers.models import (
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)
from economics.models import CustomerScore
from economics.selectors import current_run
from roles.models import Charter, RoleBlueprint

from .permissions import ROLE_READERS


def reads_all_data(user) -> bool:
    """Integrators read all the data they load; readers who see every customer too."""
    return sees_all_customers(user) or has_persona(user, Persona.INTEGRATOR)


def api_customers(user) -> QuerySet[Customer]:
    customers = (
        Customer.objects.all() if reads_all_data(user) else Customer.objects.visible_to(user)
    )
    customers = customers.select_related("account_manager").order_by("id")
    run = current_run()
    if run is not None and has_persona(user, *ROLE_READERS):
        # The current run's figures, one query for the whole page.
        customers = customers.prefetch_related(
            Prefetch(
                "scores",
                queryset=CustomerScore.objects.filter(run=run).select_related("run"),
                to_attr="current_scores",
            )
        )
    return customers


# kind → (model, related fields to fetch, date field for the date range)
RECORDS: dict[str, tuple[type[Model], tuple[str, ...], str]] = {
    "orders": (Order, ("customer",), "date"),
    "invoices": (Invoice, ("customer", "order"), "issued_on"),
    "tickets": (SupportTicket, ("customer",), "opened_at__date"),
    "activities": (ServiceActivity, ("customer", "activity_type"), "date"),
    "referrals": (Referral, ("referrer", "referred"), "date"),
    "feedback": (Feedback, ("customer",), "date"),
}


def api_records(
    *,
    kind: str,
    user,
    customer: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet:
    if kind == "customers":
        records = api_customers(user)
        if customer:
            records = records.filter(external_id=customer)
        date_field = "acquired_on"
    else:
        model, related, date_field = RECORDS[kind]
        records = model.objects.select_related(*related).order_by("id")
        if kind == "referrals":
            if not reads_all_data(user):
                mine = Customer.objects.visible_to(user)
                records = records.filter(Q(referrer__in=mine) | Q(referred__in=mine))
            if customer:
                records = records.filter(
                    Q(referrer__external_id=customer) | Q(referred__external_id=customer)
                )
        else:
            if not reads_all_data(user):
                records = records.filter(customer__in=Customer.objects.visible_to(user))
            if customer:
                records = records.filter(customer__external_id=customer)
    if date_from:
        records = records.filter(**{f"{date_field}__gte": date_from})
    if date_to:
        records = records.filter(**{f"{date_field}__lte": date_to})
    return records


def api_blueprints(*, status: str = "") -> QuerySet[RoleBlueprint]:
    blueprints = RoleBlueprint.objects.prefetch_related("expectations").order_by("id")
    return blueprints.filter(status=status) if status else blueprints


def api_charters(
    *,
    user,
    customer: str = "",
    status: str = "",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[Charter]:
    charters = Charter.objects.visible_to(user).select_related("customer", "blueprint")
    if customer:
        charters = charters.filter(customer__external_id=customer)
    if status:
        charters = charters.filter(status=status)
    if date_from:
        charters = charters.filter(agreed_on__gte=date_from)
    if date_to:
        charters = charters.filter(agreed_on__lte=date_to)
    return charters.order_by("id")
