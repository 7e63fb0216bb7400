"""The audit log: who did what, when, to which object. Rows are only ever added."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


class AuditLogIsAppendOnly(Exception):
    """An audit event was about to be changed or deleted."""


class AuditAction(models.TextChoices):
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOGOUT = "logout", "Signed out"
    IMPORT_RUN = "import_run", "Import run"
    IMPORT_CONFIRMED = "import_confirmed", "Import confirmed"
    EXPORT = "export", "Export"
    CHARTER_CREATED = "charter_created", "Charter created"
    CHARTER_CHANGED = "charter_changed", "Charter changed"
    BLUEPRINT_SAVED = "blueprint_saved", "Blueprint and commitments saved"
    BLUEPRINT_DUPLICATED = "blueprint_duplicated", "Blueprint duplicated"
    BLUEPRINT_RETIRED = "blueprint_retired", "Blueprint retired"
    BLUEPRINT_REACTIVATED = "blueprint_reactivated", "Blueprint reactivated"
    COST_MODEL_CHANGED = "cost_model_changed", "Cost model changed"
    ACTIVITY_RATE_SET = "activity_rate_set", "Activity rate set"
    FLAG_DECIDED = "flag_decided", "Flag decided"
    ECONOMICS_RUN_REQUESTED = "economics_run_requested", "Economics run requested"
    # One per CX case event (cx.models.CaseEvent.Action), prefixed "case_".
    CASE_OPENED = "case_opened", "Case opened"
    CASE_ASSIGNED = "case_assigned", "Case assigned"
    CASE_REVIEW_STARTED = "case_review_started", "Case review started"
    CASE_DECIDED = "case_decided", "Case decided"
    CASE_REOPENED = "case_reopened", "Case back to review"
    CASE_APPROVED = "case_approved", "Let-go approved"
    CASE_REJECTED = "case_rejected", "Let-go rejected"
    CASE_RELEASED = "case_released", "Customer released"
    CASE_CHECKLIST_TICKED = "case_checklist_ticked", "Exit checklist item done"
    CASE_CHECKLIST_UNTICKED = "case_checklist_unticked", "Exit checklist item reopened"
    CASE_FLAG_DECIDED = "case_flag_decided", "Flag decided on a case"
    CASE_NOTE = "case_note", "Case note"
    CASE_CLOSED = "case_closed", "Case done"


class AuditEventQuerySet(models.QuerySet):
    """No bulk change or bulk delete: the log only grows."""

    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be changed.")

    def delete(self):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")


class AuditEvent(models.Model):
    """One thing someone did. Written by ``audit.services.audit_record`` only; never
    changed or deleted (here, in the query set and, on PostgreSQL, by a trigger)."""

    Action = AuditAction

    at = models.DateTimeField(default=timezone.now, db_index=True, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # Someone who acted is deactivated, not deleted: the log keeps who it was.
        on_delete=models.PROTECT,
        related_name="audit_events",
    )
    actor_label = models.CharField(
        max_length=150, blank=True, help_text="The username, as typed for a failed sign-in."
    )
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField(max_length=100, blank=True, help_text="app_label.model")
    object_id = models.CharField(max_length=64, blank=True)
    object_repr = models.CharField(max_length=300, blank=True)
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(action__in=AuditAction.values), name="audit_action_known"
            ),
            models.CheckConstraint(
                condition=~Q(action=AuditAction.LOGIN_FAILED) | Q(actor__isnull=True),
                name="audit_failed_login_has_no_actor",
            ),
        ]

    def __str__(self) -> str:
        who = self.actor_label or "anonymous"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who}: {self.get_action_display()}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditLogIsAppendOnly("Audit events cannot be changed.")
        kwargs["force_insert"] = True  # an explicit pk of an existing row fails, not updates
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("Audit events cannot be deleted.")

    @property
    def detail_lines(self) -> list[tuple[str, str]]:
        """The detail as (name, text) pairs for people: a change reads "before → after",
        a status move "from → to"; empty values are left out."""
        detail = dict(self.detail or {})
        lines = []
        if "from" in detail and "to" in detail:
            before, after = _status(detail.pop("from")), _status(detail.pop("to"))
            lines.append(("status", f"{before} → {after}" if before else after))
        for key, value in detail.items():
            if value in (None, "", [], {}):
                continue
            if isinstance(value, dict) and set(value) == {"before", "after"}:
                text = f"{_text(value['before'])} → {_text(value['after'])}"
            else:
                text = _text(value)
            lines.append((key.replace("_", " "), text))
        return lines


def _text(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value) or "—"
    return str(value)


def _status(code) -> str:
    """A status code as people read it: "under_review" → "under review"."""
    return str(code or "").replace("_", " ")
