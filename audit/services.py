"""The one write of the audit log. The other apps call ``audit_record`` where the change
happens, inside their transaction, so a change that rolls back leaves no audit event."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .models import AuditAction, AuditEvent

__all__ = ["AuditAction", "audit_record", "changes"]


class _Encoder(DjangoJSONEncoder):
    """Dates, decimals and the like as JSON does them; anything else as its text."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


def audit_record(
    *,
    action: str,
    actor=None,
    obj: models.Model | None = None,
    detail: dict | None = None,
    request=None,
    actor_label: str = "",
) -> AuditEvent:
    """Record that ``actor`` did ``action`` to ``obj``. ``request`` gives the client's
    address. No actor, or an anonymous one, is stored as no user, with ``actor_label``
    (e.g. the username typed at a failed sign-in)."""
    action = AuditAction(action)  # an unknown action is a programming error: fail loudly
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = actor_label or (user.get_username() if user is not None else "")
    event = AuditEvent(
        action=action,
        actor=user,
        actor_label=label[:150],
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:300] if obj is not None else "",
        detail=json.loads(json.dumps(detail or {}, cls=_Encoder)),
        ip=_client_ip(request),
    )
    event.full_clean()
    event.save()
    return event


def changes(obj: models.Model, values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"before": …, "after": …}}`` for the values that differ from ``obj``'s;
    call it before the values are set."""
    return {
        name: {"before": getattr(obj, name, None), "after": value}
        for name, value in values.items()
        if getattr(obj, name, None) != value
    }


def _client_ip(request) -> str | None:
    """The client's address as django-axes sees it (same proxy settings), or None."""
    if request is None or not getattr(request, "META", None):
        return None
    from axes.helpers import get_client_ip_address

    try:
        address = get_client_ip_address(request)
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None
