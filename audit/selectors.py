from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.db.models import QuerySet

from .models import AuditEvent


def audit_events(
    *,
    action: str | None = None,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """The log, newest first, narrowed by what is given. ``actor`` matches part of the
    username (as typed, for failed sign-ins); the dates are local days, both included."""
    events = AuditEvent.objects.select_related("actor")
    if action:
        events = events.filter(action=action)
    if actor:
        events = events.filter(actor_label__icontains=actor.strip())
    if object_type:
        events = events.filter(object_type=object_type)
    if object_id:
        events = events.filter(object_id=object_id.strip())
    if since:
        events = events.filter(at__date__gte=since)
    if until:
        events = events.filter(at__date__lte=until)
    return events.order_by("-at", "-pk")


def object_type_choices() -> list[tuple[str, str]]:
    """The kinds of object the log mentions, named as people call them."""
    types = (
        AuditEvent.objects.exclude(object_type="")
        .order_by()
        .values_list("object_type", flat=True)
        .distinct()
    )
    return sorted(((t, object_type_label(t)) for t in types), key=lambda c: c[1].lower())


def object_type_label(object_type: str) -> str:
    try:
        return str(apps.get_model(object_type)._meta.verbose_name).capitalize()
    except (LookupError, ValueError):
        return object_type
