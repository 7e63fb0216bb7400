"""Writes of the imports app: running an import and keeping its history.

``import_run`` is the one import service: the command line, the REST API and (through
``import_job_validate`` / ``import_job_execute``, run by Celery tasks) the upload page
all end up in ``engine.run``. Every run is recorded as an ``ImportJob``; at most one
import of a kind writes at a time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit.services import AuditAction, audit_record
from config.tasks import TRANSIENT_ERRORS

from . import engine
from .engine import ImportConflict, ImportResult
from .models import ImportJob
from .reading import Limits, SourceError, open_source
from .specs import get_spec

MAX_API_ROWS = 10_000
RETRYING = "retrying"  # the progress stage of a job queued again after a transient error

logger = logging.getLogger(__name__)


class ImportAlreadyRunning(Exception):
    def __init__(self, kind: str, running: ImportJob | None = None):
        self.kind = kind
        self.running = running
        label = get_spec(kind).kind.label.lower()
        who = ""
        if running is not None:
            by = running.created_by or running.get_origin_display().lower()
            who = f" (import #{running.pk}, started by {by})"
        super().__init__(
            f"An import of {label} is already running{who}. "
            "Try again when it has finished: one import of a kind writes at a time."
        )


def import_limits() -> Limits:
    """The limits of one import, from the settings (``IMPORT_MAX_BYTES`` …)."""
    defaults = Limits()
    return Limits(
        max_bytes=getattr(settings, "IMPORT_MAX_BYTES", defaults.max_bytes),
        max_rows=getattr(settings, "IMPORT_MAX_ROWS", defaults.max_rows),
        xlsx_max_uncompressed=getattr(
            settings, "IMPORT_XLSX_MAX_UNCOMPRESSED_BYTES", defaults.xlsx_max_uncompressed
        ),
        xlsx_max_ratio=getattr(settings, "IMPORT_XLSX_MAX_RATIO", defaults.xlsx_max_ratio),
        xlsx_max_entries=getattr(settings, "IMPORT_XLSX_MAX_ENTRIES", defaults.xlsx_max_entries),
    )


def _run_engine(
    *,
    kind: str,
    source: Any,
    name: str,
    dry_run: bool,
    create_missing_customers: bool,
    progress: Callable[[str, int], None] | None = None,
    keep_errors: int | None = engine.ERRORS_KEPT,
) -> ImportResult:
    spec = get_spec(kind)
    if isinstance(source, str) or hasattr(source, "__fspath__"):
        try:
            with open(source, "rb") as handle:
                return _run_engine(
                    kind=kind,
                    source=handle,
                    name=name,
                    dry_run=dry_run,
                    create_missing_customers=create_missing_customers,
                    progress=progress,
                    keep_errors=keep_errors,
                )
        except OSError as exc:
            error = SourceError(f"The file cannot be opened: {exc.strerror}.", code="unreadable")
            return engine.rejected_source(spec, error, name=name, dry_run=dry_run)
    limits = import_limits()
    try:
        opened = open_source(source, name=name, limits=limits)
    except SourceError as exc:
        return engine.rejected_source(spec, exc, name=name, dry_run=dry_run)
    return engine.run(
        spec,
        opened,
        dry_run=dry_run,
        create_missing_customers=create_missing_customers,
        time_zone=settings.TIME_ZONE,
        progress=progress,
        keep_errors=keep_errors,
        max_rows=limits.max_rows,
    )


def import_run(
    *,
    kind: str,
    source: Any,
    dry_run: bool = False,
    create_missing_customers: bool = False,
    user=None,
    origin: str = ImportJob.Origin.CLI,
    file_name: str = "",
    keep_errors: int | None = engine.ERRORS_KEPT,
) -> ImportResult:
    """Import ``source`` (a path, a binary file or a list of dicts) as ``kind`` and
    record it. Raises ``ImportAlreadyRunning`` when another import of the kind writes.
    The caller closes ``result.report``."""
    get_spec(kind)
    name = file_name or getattr(source, "name", "") or str(source)[:255]
    if isinstance(source, list):
        name = file_name or f"{len(source)} records"
    job = _job_start(
        kind=kind,
        user=user,
        origin=origin,
        file_name=name.rsplit("/", 1)[-1],
        dry_run=dry_run,
        create_missing_customers=create_missing_customers,
    )
    try:
        result = _run_engine(
            kind=kind,
            source=source,
            name=job.file_name,
            dry_run=dry_run,
            create_missing_customers=create_missing_customers,
            progress=_progress_for(job.pk),
            keep_errors=keep_errors,
        )
    except Exception as exc:
        _job_fail(job.pk, exc)
        raise
    _job_finish(job.pk, result, from_status=job.status)
    audit_record(
        action=AuditAction.IMPORT_RUN,
        actor=user,
        obj=job,
        detail={
            "kind": kind,
            "origin": origin,
            "file": job.file_name,
            "dry_run": dry_run,
            "outcome": result.status,
            "rows": result.rows,
        },
    )
    result.job_id = job.pk
    return result


def record_upsert(*, kind: str, record: dict[str, Any], user=None) -> ImportResult:
    """Create or update one record through the same validation as a file, without an
    entry in the import history (the REST API's single-record writes)."""
    return _run_engine(
        kind=kind,
        source=[record],
        name="record",
        dry_run=False,
        create_missing_customers=False,
        keep_errors=None,
    )


def _job_start(
    *,
    kind: str,
    user,
    origin: str,
    file_name: str,
    dry_run: bool,
    create_missing_customers: bool,
) -> ImportJob:
    status = ImportJob.Status.VALIDATING if dry_run else ImportJob.Status.IMPORTING
    job = ImportJob(
        kind=kind,
        status=status,
        origin=origin,
        dry_run=dry_run,
        create_missing_customers=create_missing_customers,
        file_name=file_name[:255],
        created_by=user if getattr(user, "is_authenticated", False) else None,
        started_at=timezone.now(),
        progress_stage="validating",
    )
    job.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        raise ImportAlreadyRunning(kind, _running(kind)) from None
    return job


def _running(kind: str) -> ImportJob | None:
    return (
        ImportJob.objects.filter(kind=kind, status=ImportJob.Status.IMPORTING)
        .select_related("created_by")
        .first()
    )


def _progress_for(job_id: int) -> Callable[[str, int], None]:
    """Record progress at most twice a second, and on every change of stage."""
    last = {"stage": "", "at": 0.0, "percent": -1}

    def progress(stage: str, percent: int) -> None:
        now = time.monotonic()
        if stage == last["stage"] and (now - last["at"] < 0.5 or percent == last["percent"]):
            return
        last.update(stage=stage, at=now, percent=percent)
        ImportJob.objects.filter(pk=job_id).update(
            progress_stage=stage, progress_percent=max(0, min(percent, 100))
        )

    return progress


def _job_finish(job_id: int, result: ImportResult, *, from_status: str) -> None:
    """Record the outcome, unless the job left ``from_status`` meanwhile (e.g. an
    admin marked it failed)."""
    if result.status == ImportResult.REJECTED:
        status = ImportJob.Status.REJECTED
    elif result.dry_run:
        status = ImportJob.Status.VALIDATED
    else:
        status = ImportJob.Status.SUCCEEDED
    values: dict[str, Any] = {
        "status": status,
        "rows": result.rows,
        "created_count": result.created,
        "updated_count": result.updated,
        "unchanged_count": result.unchanged,
        "rejected_count": result.rejected,
        "customers_created": result.customers_created,
        "error_count": result.error_count,
        "errors": result.errors[: engine.ERRORS_KEPT],
        "message": result.summary,
        "finished_at": timezone.now(),
        "progress_stage": "done",
        "progress_percent": 100,
    }
    if result.preview:
        values["preview"] = {"columns": result.columns, "rows": result.preview}
    if result.report is not None:
        result.report.seek(0)
        field = ImportJob._meta.get_field("error_report")
        path = field.generate_filename(None, f"import-{job_id}-errors.csv")
        values["error_report"] = field.storage.save(path, File(result.report))
        result.report.seek(0)
    ImportJob.objects.filter(pk=job_id, status=from_status).update(**values)


def _job_fail(job_id: int, exc: BaseException) -> None:
    if isinstance(exc, ImportConflict):
        message = str(exc)
    else:
        message = f"The import failed ({exc.__class__.__name__}: {exc}); nothing was written."
    ImportJob.objects.filter(pk=job_id, status__in=ImportJob.RUNNING).update(
        status=ImportJob.Status.FAILED,
        message=message[:2000],
        finished_at=timezone.now(),
        progress_stage="failed",
    )


# --- the upload page's flow: upload → validate → confirm → import -------------------


def import_job_create(
    *, kind: str, upload: UploadedFile, create_missing_customers: bool, user
) -> ImportJob:
    """Store the uploaded file and queue its validation (a dry run)."""
    get_spec(kind)
    job = ImportJob(
        kind=kind,
        status=ImportJob.Status.QUEUED,
        origin=ImportJob.Origin.WEB,
        dry_run=False,
        create_missing_customers=create_missing_customers,
        file_name=(upload.name or "upload")[:255],
        file_size=upload.size,
        created_by=user,
        progress_stage="queued",
    )
    job.file.save(upload.name or "upload", upload, save=False)
    job.full_clean(exclude=["file", "error_report"])
    job.save()
    audit_record(
        action=AuditAction.IMPORT_RUN,
        actor=user,
        obj=job,
        detail={"kind": kind, "origin": job.origin, "file": job.file_name, "bytes": upload.size},
    )
    inline = (upload.size or 0) <= getattr(settings, "IMPORTS_INLINE_VALIDATION_BYTES", 1_000_000)
    if inline:
        try:
            import_job_validate(job_id=job.pk)
        except Exception:  # recorded on the job as failed; the page shows it
            logger.exception("Validating import #%s failed", job.pk)
        job.refresh_from_db()
    else:
        from .tasks import validate_import

        transaction.on_commit(lambda: validate_import.delay(job.pk))
    return job


def import_job_validate(*, job_id: int, retry_transient: bool = False) -> None:
    """Validate a queued job's file without writing; idempotent (compare-and-set). With
    ``retry_transient``, a transient error queues the job again for the task's retry."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.VALIDATING,
        started_at=timezone.now(),
        progress_stage="validating",
        progress_percent=0,
    )
    if claimed != 1:
        return
    _job_run_file(
        job_id,
        dry_run=True,
        from_status=ImportJob.Status.VALIDATING,
        retry_transient=retry_transient,
    )


def import_job_confirm(*, job: ImportJob, user) -> ImportJob:
    """Start writing a validated job's file; refused while another import of the same
    kind is running."""
    try:
        with transaction.atomic():
            claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.VALIDATED).update(
                status=ImportJob.Status.IMPORTING,
                progress_stage="queued",
                progress_percent=0,
                started_at=timezone.now(),
                finished_at=None,
            )
    except IntegrityError:
        raise ImportAlreadyRunning(job.kind, _running(job.kind)) from None
    job.refresh_from_db()
    if claimed == 1:
        audit_record(
            action=AuditAction.IMPORT_CONFIRMED,
            actor=user,
            obj=job,
            detail={"kind": job.kind, "file": job.file_name, "rows": job.rows},
        )
        from .tasks import run_import

        transaction.on_commit(lambda: run_import.delay(job.pk))
    return job


def import_job_execute(*, job_id: int, retry_transient: bool = False) -> None:
    """Write a confirmed job's file; a second delivery of the task does nothing. With
    ``retry_transient``, a transient error queues the job again for the task's retry
    (the write is one transaction: the interrupted attempt wrote nothing)."""
    claimed = ImportJob.objects.filter(
        pk=job_id, status=ImportJob.Status.IMPORTING, progress_stage__in=("queued", RETRYING)
    ).update(progress_stage="validating", started_at=timezone.now())
    if claimed != 1:
        return
    _job_run_file(
        job_id,
        dry_run=False,
        from_status=ImportJob.Status.IMPORTING,
        retry_transient=retry_transient,
    )


def _job_run_file(
    job_id: int, *, dry_run: bool, from_status: str, retry_transient: bool = False
) -> None:
    job = ImportJob.objects.get(pk=job_id)
    try:
        with job.file.open("rb") as handle:
            result = _run_engine(
                kind=job.kind,
                source=handle,
                name=job.file_name,
                dry_run=dry_run,
                create_missing_customers=job.create_missing_customers,
                progress=_progress_for(job_id),
            )
    except Exception as exc:
        transient = isinstance(exc, TRANSIENT_ERRORS)
        if transient and retry_transient and _job_requeue(job_id, exc, from_status=from_status):
            logger.warning("Import #%s will be retried after %r", job_id, exc)
            raise
        _job_fail(job_id, exc)
        if isinstance(exc, ImportConflict):
            return
        raise
    try:
        _job_finish(job_id, result, from_status=from_status)
    finally:
        result.close()


def _job_requeue(job_id: int, exc: BaseException, *, from_status: str) -> bool:
    """After a transient error: hand the job back to its task's retry — a validation to
    the queue, an import to "confirmed, not started". Nothing was written (the import's
    write is one transaction); the message says it will be tried again."""
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()  # reconnect after a lost connection
    message = f"Interrupted ({exc.__class__.__name__}: {exc}); it will be tried again."
    values: dict[str, Any] = {
        "progress_stage": RETRYING,
        "progress_percent": 0,
        "started_at": timezone.now(),  # the sweeper's time limit counts from here
        "message": message[:2000],
    }
    if from_status == ImportJob.Status.VALIDATING:
        values["status"] = ImportJob.Status.QUEUED
    return ImportJob.objects.filter(pk=job_id, status=from_status).update(**values) == 1


def import_job_mark_failed(*, job: ImportJob, reason: str) -> bool:
    """For an import whose worker died: free its kind for the next import."""
    return (
        ImportJob.objects.filter(pk=job.pk, status__in=ImportJob.RUNNING).update(
            status=ImportJob.Status.FAILED,
            message=reason,
            finished_at=timezone.now(),
            progress_stage="failed",
        )
        == 1
    )
