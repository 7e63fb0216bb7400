"""The audit log page, for admins. Read-only: GET and HEAD only, no form changes it."""

from __future__ import annotations

import json

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from accounts.decorators import persona_required
from accounts.personas import Persona
from customers.exports import export_response

from . import selectors
from .forms import AuditFilterForm
from .services import AuditAction, audit_record

PAGE_SIZE = 50
EXPORT_COLUMNS = [
    "at",
    "actor",
    "action",
    "object_type",
    "object_id",
    "object",
    "detail",
    "ip",
]


def _filter_form(request: HttpRequest) -> AuditFilterForm:
    return AuditFilterForm(request.GET, object_types=selectors.object_type_choices())


@require_safe
@persona_required(Persona.ADMIN)
def log(request: HttpRequest) -> HttpResponse:
    form = _filter_form(request)
    filters = form.filters()
    events = selectors.audit_events(**filters)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/log.html",
        {"form": form, "page": page, "query": query.urlencode(), "filtered": any(filters.values())},
    )


@require_safe
@persona_required(Persona.ADMIN)
def log_export(request: HttpRequest, fmt: str) -> HttpResponse:
    """The log as filtered on the page (an unknown format is a 404 from
    ``export_response``, before anything is recorded). The export itself is recorded."""
    filters = _filter_form(request).filters()
    events = selectors.audit_events(**filters)
    response = export_response(
        fmt=fmt,
        filename=f"audit-log-{timezone.localdate().isoformat()}",
        header=EXPORT_COLUMNS,
        rows=(
            [
                e.at,
                e.actor_label,
                e.action,
                e.object_type,
                e.object_id,
                e.object_repr,
                json.dumps(e.detail, ensure_ascii=False),
                e.ip,
            ]
            for e in events.iterator(chunk_size=2000)
        ),
    )
    audit_record(
        action=AuditAction.EXPORT,
        actor=request.user,
        request=request,
        detail={"what": "audit log", "format": fmt, "filter": _clean(filters),
                "rows": events.count()},
    )  # fmt: skip
    return response


def _clean(filters: dict) -> dict:
    return {k: v for k, v in filters.items() if v not in (None, "")}
