"""Reads about customers and their history. No side effects."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.shortcuts import get_object_or_404

from .filters import CustomerFilter
from .models import (
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)

ZERO = Decimal("0")


def get_customer_for_user(user, pk: int) -> Customer:
    """The customer, or 404 for anyone who may not see it (an account manager asking
    for another manager's customer gets the same answer as for a missing one)."""
    return get_object_or_404(Customer.objects.visible_to(user).for_list(), pk=pk)


def customer_list(*, user, filters: CustomerFilter | None = None) -> QuerySet[Customer]:
    """The customers the user may see, filtered, with the current run's figures."""
    return (filters or CustomerFilter()).apply(Customer.objects.visible_to(user).for_list())


class CustomerPages:
    """``customer_list`` for a ``Paginator``: the page's rows come from the list, the
    count from the same filter without the run's figures (a million customers are
    counted without joining a million score rows)."""

    def __init__(self, *, user, filters: CustomerFilter | None = None):
        filters = filters or CustomerFilter()
        self.rows = customer_list(user=user, filters=filters)
        self._counted = filters.apply(Customer.objects.visible_to(user), figures=False)
        self._count: int | None = None

    def count(self) -> int:
        if self._count is None:
            self._count = self._counted.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index):
        return self.rows[index]


FILTER_CHOICES_SECONDS = 5 * 60


def filter_choices() -> dict[str, list]:
    """The values the list's filters offer (each a scan of the customers: kept five
    minutes)."""
    from django.core.cache import cache

    return cache.get_or_set("tango:customer-filter-choices", _filter_choices,
                            FILTER_CHOICES_SECONDS)  # fmt: skip


def _filter_choices() -> dict[str, list]:

    def distinct(field: str) -> list[str]:
        return list(
            Customer.objects.exclude(**{field: ""})
            .order_by(field)
            .values_list(field, flat=True)
            .distinct()
        )

    return {
        "segments": distinct("segment"),
        "channels": distinct("acquisition_channel"),
        "reps": distinct("sales_rep"),
    }


def segments() -> list[str]:
    return list(
        Customer.objects.exclude(segment="")
        .order_by("segment")
        .values_list("segment", flat=True)
        .distinct()
    )


def customer_totals(customer: Customer) -> dict[str, Decimal | int]:
    agg = customer.orders.aggregate(
        revenue=Sum("revenue"), cost=Sum("cost"), orders=Count("id"), last=Max("date")
    )
    revenue = agg["revenue"] or ZERO
    cost = agg["cost"] or ZERO
    return {
        "revenue": revenue,
        "gross_margin": revenue - cost,
        "orders": agg["orders"],
        "last_order_on": agg["last"],
        **_ticket_counts(customer),
        "referrals": customer.referrals_made.count(),
    }


def _ticket_counts(customer: Customer) -> dict[str, int | str]:
    agg = customer.tickets.aggregate(
        tickets=Count("id"), complaints=Count("id", filter=Q(is_complaint=True))
    )
    label = f"{agg['tickets']} ticket{'s' if agg['tickets'] != 1 else ''}"
    return {**agg, "tickets_label": label}


def customer_recent_history(customer: Customer, *, limit: int = 10) -> dict[str, list]:
    return {
        "orders": list(customer.orders.all()[:limit]),
        "invoices": list(customer.invoices.all()[:limit]),
        "tickets": list(customer.tickets.all()[:limit]),
        "activities": list(customer.activities.select_related("activity_type")[:limit]),
        "referrals": list(customer.referrals_made.select_related("referred")[:limit]),
        "feedback": list(customer.feedback.all()[:limit]),
    }


def data_counts() -> dict[str, int]:
    return {
        "Customers": Customer.objects.count(),
        "Orders": Order.objects.count(),
        "Invoices": Invoice.objects.count(),
        "Support tickets": SupportTicket.objects.count(),
        "Service activities": ServiceActivity.objects.count(),
        "Referrals": Referral.objects.count(),
        "Feedback": Feedback.objects.count(),
    }


def monthly_sales(*, customers: QuerySet[Customer], since: date) -> list[dict]:
    """Revenue and gross margin per calendar month since ``since``, oldest first."""
    rows = (
        Order.objects.filter(customer__in=customers, date__gte=since)
        .annotate(month=TruncMonth("date"))
        .values("month")
        .annotate(total_revenue=Sum("revenue"), total_margin=Sum(F("revenue") - F("cost")))
        .order_by("month")
    )
    return [
        {
            "month": r["month"],
            "revenue": r["total_revenue"] or ZERO,
            "margin": r["total_margin"] or ZERO,
        }
        for r in rows
    ]


def trailing_totals(*, customers: QuerySet[Customer], as_of: date) -> dict[str, Decimal | int]:
    since = as_of - timedelta(days=365)
    agg = Order.objects.filter(customer__in=customers, date__gt=since, date__lte=as_of).aggregate(
        revenue=Sum("revenue"), cost=Sum("cost"), buyers=Count("customer", distinct=True)
    )
    revenue = agg["revenue"] or ZERO
    return {
        "revenue": revenue,
        "gross_margin": revenue - (agg["cost"] or ZERO),
        "buyers": agg["buyers"],
    }


def recent_complaints(*, customers: QuerySet[Customer], limit: int = 10) -> list[SupportTicket]:
    return list(
        SupportTicket.objects.filter(customer__in=customers, is_complaint=True)
        .select_related("customer")
        .order_by("-opened_at")[:limit]
    )


def most_complaining(*, customers: QuerySet[Customer], limit: int = 10) -> list[Customer]:
    return list(
        customers.annotate(
            complaints=Count("tickets", filter=Q(tickets__is_complaint=True)),
            tickets_total=Count("tickets"),
        )
        .filter(complaints__gt=0)
        .order_by("-complaints", "name")[:limit]
    )


TIMELINE_LIMIT = 2000


def _event(day, kind: str, label: str) -> dict:
    return {"date": day, "kind": kind, "label": label}


def customer_timeline(customer: Customer) -> list[dict]:
    """The relationship's events, newest first: orders, invoices paid late, tickets and
    complaints, activities and concessions, referrals and feedback."""
    n = TIMELINE_LIMIT
    events = [
        _event(o.date, "Order", f"{o.get_kind_display()}, revenue {o.revenue:,.2f}")
        for o in customer.orders.only("customer_id", "date", "revenue", "kind")[:n]
    ]
    late = customer.invoices.filter(paid_on__gt=F("due_on")).only(
        "customer_id", "due_on", "paid_on", "amount"
    )
    events += [
        _event(i.paid_on, "Invoice paid late",
               f"{i.amount:,.2f} paid {(i.paid_on - i.due_on).days} days late")
        for i in late[:n]
    ]  # fmt: skip
    tickets = customer.tickets.only(
        "customer_id", "opened_at", "is_complaint", "subject", "channel"
    )
    events += [
        _event(t.opened_at.date(), "Complaint" if t.is_complaint else "Ticket",
               f"{t.subject or 'Ticket'} ({t.get_channel_display()})")
        for t in tickets[:n]
    ]  # fmt: skip
    for a in customer.activities.select_related("activity_type")[:n]:
        concession = a.activity_type.kind == "concession"
        label = f"{a.activity_type.name} × {a.quantity:g}"
        if concession and a.amount:
            label += f", {a.amount:,.2f} given"
        events.append(_event(a.date, "Concession" if concession else "Activity", label))
    events += [
        _event(r.date, "Referral", f"Referred {r.referred.name if r.referred else r.referred_name}")
        for r in customer.referrals_made.select_related("referred")[:n]
    ]
    for fb in customer.feedback.all()[:n]:
        label = fb.get_kind_display()
        if fb.score is not None:
            label += f", score {fb.score}"
        if fb.insight:
            label += f": “{fb.insight[:80]}”"
        events.append(_event(fb.date, "Feedback", label))
    events.sort(key=lambda e: e["date"], reverse=True)
    return events
