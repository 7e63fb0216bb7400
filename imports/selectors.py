"""Reads about imports. No side effects."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from .models import ImportJob


def import_history(*, kind: str = "", status: str = "") -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")
    if kind:
        jobs = jobs.filter(kind=kind)
    if status:
        jobs = jobs.filter(status=status)
    return jobs


def get_import_job(pk: int) -> ImportJob:
    """Every admin and integrator sees every import: the history is shared."""
    return get_object_or_404(ImportJob.objects.select_related("created_by"), pk=pk)


def running_imports() -> QuerySet[ImportJob]:
    return ImportJob.objects.filter(status__in=ImportJob.RUNNING).select_related("created_by")


def record_as_row(spec, instance) -> dict[str, str]:
    """A record as the row of an import file that would produce it (references by
    their natural key, dates ISO, amounts with a dot)."""
    import datetime as dt

    row: dict[str, str] = {}
    for column in spec.columns:
        value = getattr(instance, column.model_field)
        if column.ref is not None:
            value = getattr(value, column.ref.key) if value is not None else None
        if value is None:
            row[column.name] = ""
        elif isinstance(value, bool):
            row[column.name] = "true" if value else "false"
        elif isinstance(value, dt.date):  # and datetimes
            row[column.name] = value.isoformat()
        else:
            row[column.name] = str(value)
    return row
