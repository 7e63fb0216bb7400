from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from accounts.decorators import persona_required
from accounts.personas import Persona
from audit.services import AuditAction, audit_record
from customers.exports import FORMATS, export_response

from . import selectors, services
from .forms import ImportUploadForm, max_upload_bytes
from .models import ImportJob
from .reading import too_large_message
from .specs import SPECS, Kind, describe_range, describe_type

IMPORTERS = (Persona.ADMIN, Persona.INTEGRATOR)
HISTORY_PAGE = 50


def _column_reference() -> list[dict]:
    return [
        {
            "kind": spec.kind,
            "label": spec.kind.label,
            "description": spec.description.replace("`", ""),
            "columns": [
                {
                    "name": c.name,
                    "required": c.required,
                    "type": describe_type(c).replace("`", ""),
                    "range": describe_range(c),
                    "default": c.default,
                    "help": c.help.replace("`", ""),
                }
                for c in spec.columns
            ],
            "rules": [rule.describe().replace("`", "") for rule in spec.rules],
        }
        for spec in SPECS.values()
    ]


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


# Room for the form's other fields and the multipart boundaries around the file.
MULTIPART_ROOM = 64 * 1024


# Not exempt from CSRF protection: ``_upload`` is protected. The outer view only refuses
# a request whose Content-Length is too large, before anything reads its body (the CSRF
# middleware would otherwise parse the whole upload to look for the token).
@csrf_exempt
@persona_required(*IMPORTERS)
def upload(request: HttpRequest) -> HttpResponse:
    limit = max_upload_bytes()
    if request.method == "POST" and _content_length(request) > limit + MULTIPART_ROOM:
        messages.error(request, too_large_message(None, limit))
        response = _upload_page(request, ImportUploadForm())
        response.status_code = 413
        return response
    return _upload(request)


@csrf_protect
def _upload(request: HttpRequest) -> HttpResponse:
    """The form: its file arrives on disk (Django keeps uploads over 2.5 MB in a
    temporary file) and ``ImportUploadForm`` checks its size before anything parses it."""
    form = ImportUploadForm(
        request.POST or None,
        request.FILES or None,
        initial={"kind": request.GET.get("kind", Kind.CUSTOMERS)},
    )
    if request.method == "POST" and form.is_valid():
        job = services.import_job_create(
            kind=form.cleaned_data["kind"],
            upload=form.cleaned_data["file"],
            create_missing_customers=form.cleaned_data["create_missing_customers"],
            user=request.user,
        )
        return redirect("imports:detail", pk=job.pk)
    return _upload_page(request, form)


def _upload_page(request: HttpRequest, form: ImportUploadForm) -> HttpResponse:
    return render(
        request,
        "imports/upload.html",
        {
            "form": form,
            "reference": _column_reference(),
            "recent": selectors.import_history()[:5],
            "running": list(selectors.running_imports()),
        },
    )


@persona_required(*IMPORTERS)
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.get_import_job(pk)
    error_rows = {e.get("row") for e in job.errors}
    preview = job.preview or {}
    rows = [
        {"row": r["row"], "values": r["values"], "bad": r["row"] in error_rows}
        for r in preview.get("rows", [])
    ]
    return render(
        request,
        "imports/detail.html",
        {
            "job": job,
            "preview_columns": preview.get("columns", []),
            "preview_rows": rows,
            "can_confirm": job.status == ImportJob.Status.VALIDATED and bool(job.file),
        },
    )


@persona_required(*IMPORTERS)
def progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.get_import_job(pk)
    response = render(request, "imports/_progress.html", {"job": job})
    if not job.is_running:
        response["HX-Refresh"] = "true"
    return response


@require_POST
@persona_required(*IMPORTERS)
def confirm(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.get_import_job(pk)
    try:
        services.import_job_confirm(job=job, user=request.user)
    except services.ImportAlreadyRunning as exc:
        messages.error(request, str(exc))
    return redirect("imports:detail", pk=job.pk)


@persona_required(*IMPORTERS)
def error_report(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """The full error report, formulas neutralised like every export."""
    job = selectors.get_import_job(pk)
    if not job.error_report or fmt not in FORMATS:
        raise Http404("This import has no error report.")
    handle = job.error_report.open("rb")
    reader = csv.reader(io.TextIOWrapper(handle, encoding="utf-8-sig", newline=""))
    header = next(reader)

    def rows():
        try:
            yield from reader
        finally:
            handle.close()

    audit_record(
        action=AuditAction.EXPORT,
        actor=request.user,
        request=request,
        obj=job,
        detail={"what": "import error report", "format": fmt, "rows": job.error_count},
    )
    return export_response(fmt=fmt, filename=f"import-{job.pk}-errors", header=header, rows=rows())


@persona_required(*IMPORTERS)
def template_download(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    spec = SPECS.get(kind)
    if spec is None:
        raise Http404("No such kind of import.")
    header = [c.name for c in spec.columns]
    example = [c.example for c in spec.columns]
    return export_response(
        fmt=fmt, filename=f"tango-{kind}-template", header=header, rows=[example]
    )


def _history_filters(request: HttpRequest) -> dict[str, str]:
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "")
    return {
        "kind": kind if kind in Kind.values else "",
        "status": status if status in ImportJob.Status.values else "",
    }


@persona_required(*IMPORTERS)
def history(request: HttpRequest) -> HttpResponse:
    filters = _history_filters(request)
    page = Paginator(selectors.import_history(**filters), HISTORY_PAGE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "imports/history.html",
        {
            "page": page,
            **filters,
            "kinds": Kind.choices,
            "statuses": ImportJob.Status.choices,
        },
    )


HISTORY_COLUMNS = [
    "id",
    "kind",
    "status",
    "origin",
    "file_name",
    "created_by",
    "created_at",
    "duration_s",
    "rows",
    "created",
    "updated",
    "unchanged",
    "rejected",
    "errors",
    "message",
]


@persona_required(*IMPORTERS)
def history_export(request: HttpRequest, fmt: str) -> HttpResponse:
    jobs = selectors.import_history(**_history_filters(request))

    def rows():
        for job in jobs.iterator(chunk_size=1000):
            yield [
                job.pk,
                job.kind,
                job.status,
                job.origin,
                job.file_name,
                job.created_by.username if job.created_by else "",
                job.created_at,
                round(job.duration.total_seconds(), 1) if job.duration else None,
                job.rows,
                job.created_count,
                job.updated_count,
                job.unchanged_count,
                job.rejected_count,
                job.error_count,
                job.message,
            ]

    response = export_response(
        fmt=fmt, filename="import-history", header=HISTORY_COLUMNS, rows=rows()
    )
    audit_record(
        action=AuditAction.EXPORT,
        actor=request.user,
        request=request,
        detail={
            "what": "import history",
            "format": fmt,
            "filter": request.GET.dict(),
            "rows": jobs.count(),
        },
    )
    return response
