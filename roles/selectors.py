from __future__ import annotations

from django.db.models import QuerySet

from .models import Charter


def open_charters(*, user) -> QuerySet[Charter]:
    """Charters still in draft or proposed among the customers the user may see."""
    return (
        Charter.objects.visible_to(user)
        .filter(status__in=[Charter.Status.DRAFT, Charter.Status.PROPOSED])
        .select_related("customer", "blueprint")
        .order_by("customer__name")
    )


def current_charter(customer) -> Charter | None:
    return (
        Charter.objects.filter(customer=customer)
        .exclude(status=Charter.Status.SUPERSEDED)
        .select_related("blueprint")
        .order_by("-version")
        .first()
    )
