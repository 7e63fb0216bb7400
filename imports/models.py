"""The history of imports: who loaded which file, when, and what came of it."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .specs import Kind


class ImportJob(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        VALIDATING = "validating", "Validating"
        VALIDATED = "validated", "Validated, awaiting confirmation"
        IMPORTING = "importing", "Importing"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Failed"
        REJECTED = "rejected", "Rejected"

    class Origin(models.TextChoices):
        WEB = "web", "Upload page"
        CLI = "cli", "Command line"
        API = "api", "REST API"

    RUNNING = (Status.QUEUED, Status.VALIDATING, Status.IMPORTING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.REJECTED)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.WEB)
    dry_run = models.BooleanField(
        default=False, help_text="Validated only: nothing was meant to be written."
    )
    create_missing_customers = models.BooleanField(default=False)
    file = models.FileField(upload_to="imports/%Y/%m/", blank=True, max_length=300)
    file_name = models.CharField(max_length=255, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="import_jobs",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    rows = models.PositiveIntegerField("data rows", default=0)
    created_count = models.PositiveIntegerField("created", default=0)
    updated_count = models.PositiveIntegerField("updated", default=0)
    unchanged_count = models.PositiveIntegerField("unchanged", default=0)
    rejected_count = models.PositiveIntegerField("rejected rows", default=0)
    customers_created = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="The first errors, in row order.")
    error_report = models.FileField(upload_to="imports/reports/%Y/%m/", blank=True)
    preview = models.JSONField(default=dict, blank=True, help_text="The first rows of the file.")
    message = models.TextField(blank=True)

    progress_stage = models.CharField(max_length=24, blank=True, default="queued")
    progress_percent = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(status="importing"),
                name="import_one_running_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(progress_percent__lte=100), name="import_progress_at_most_100"
            ),
            models.CheckConstraint(
                condition=Q(finished_at__isnull=True)
                | Q(started_at__isnull=True)
                | Q(finished_at__gte=F("started_at")),
                name="import_finished_after_started",
            ),
        ]
        indexes = [models.Index(fields=["kind", "status"])]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.get_kind_display()}, {self.file_name or 'no file'})"

    @property
    def is_running(self) -> bool:
        return self.status in self.RUNNING

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED

    @property
    def duration(self) -> dt.timedelta | None:
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None

    @property
    def more_errors(self) -> int:
        return max(self.error_count - len(self.errors), 0)
