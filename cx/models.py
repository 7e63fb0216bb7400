"""Cases: what the CX team decides about a flagged customer, and who did what when.

A case is opened for the flags a customer has, reviewed, decided (keep, fix our side,
renegotiate the role, reprice, let go — always with a rationale) and closed. A customer
has at most one case in progress. Letting a customer go needs an executive's approval,
from someone other than the person who proposed it; approval releases the customer and
starts an exit checklist. Every step is kept as a ``CaseEvent``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from customers.models import Customer
from economics.models import CustomerFlag


class CaseQuerySet(models.QuerySet):
    def visible_to(self, user) -> CaseQuerySet:
        """The cases of the customers the user may see (an account manager: their own)."""
        return self.filter(customer__in=Customer.objects.visible_to(user))

    def in_progress(self) -> CaseQuerySet:
        return self.exclude(status=Case.Status.DONE)


class Case(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        UNDER_REVIEW = "under_review", "Under review"
        DECIDED = "decided", "Decided"
        DONE = "done", "Done"

    class Decision(models.TextChoices):
        NONE = "", "Not decided"
        KEEP = "keep", "Keep"
        FIX_OUR_SIDE = "fix_our_side", "Fix our side"
        RENEGOTIATE = "renegotiate_role", "Renegotiate the role"
        REPRICE = "reprice", "Reprice"
        LET_GO = "let_go", "Let go"

    class Approval(models.TextChoices):
        NONE = "", "Not needed"
        PENDING = "pending", "Awaiting an executive"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="cases")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    flags = models.ManyToManyField(
        CustomerFlag, related_name="cases", blank=True, help_text="The flags it was opened for."
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    decision = models.CharField(max_length=16, choices=Decision.choices, default="", blank=True)
    rationale = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Who made the decision; for a let-go, the proposer.",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    approval = models.CharField(
        "let-go approval", max_length=10, choices=Approval.choices, default="", blank=True
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(
        blank=True, help_text="Why an executive last turned a let-go down."
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=~Q(status="done"),
                name="cx_case_one_in_progress_per_customer",
                violation_error_message="This customer already has a case in progress.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "under_review"], decision="")
                | (Q(status__in=["decided", "done"]) & ~Q(decision="") & ~Q(rationale="")),
                name="cx_case_decided_with_decision_and_rationale",
                violation_error_message="A decided case has a decision and a rationale.",
            ),
            models.CheckConstraint(
                condition=Q(decision="", decided_at__isnull=True)
                | (~Q(decision="") & Q(decided_at__isnull=False)),
                name="cx_case_decided_at_iff_decision",
            ),
            models.CheckConstraint(
                condition=Q(
                    decision="let_go", status="decided", approval__in=["pending", "approved"]
                )
                | Q(decision="let_go", status="done", approval="approved")
                | (~Q(decision="let_go") & Q(approval__in=["", "rejected"])),
                name="cx_case_let_go_goes_through_approval",
                violation_error_message="A let-go is closed only after an executive approved it.",
            ),
            models.CheckConstraint(
                condition=Q(approval="approved", approved_at__isnull=False)
                | (~Q(approval="approved") & Q(approved_at__isnull=True, approved_by__isnull=True)),
                name="cx_case_approved_at_iff_approved",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(decided_by__isnull=True)
                | ~Q(approved_by=F("decided_by")),
                name="cx_case_approver_is_not_the_proposer",
                violation_error_message="The person who proposed a let-go cannot approve it.",
            ),
            models.CheckConstraint(
                condition=~Q(approval="rejected") | ~Q(rejection_reason=""),
                name="cx_case_rejection_has_a_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="done", closed_at__isnull=False)
                | (~Q(status="done") & Q(closed_at__isnull=True)),
                name="cx_case_closed_at_iff_done",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-opened_at"]),
            models.Index(fields=["status"]),
        ]

    def __str__(self) -> str:
        return f"Case #{self.pk}: {self.customer.name} ({self.get_status_display()})"

    @property
    def in_progress(self) -> bool:
        return self.status != self.Status.DONE

    @property
    def awaits_approval(self) -> bool:
        return self.approval == self.Approval.PENDING and self.status == self.Status.DECIDED

    @property
    def is_released(self) -> bool:
        """An approved let-go: the customer was released, the exit checklist runs."""
        return self.decision == self.Decision.LET_GO and self.approval == self.Approval.APPROVED


class ExitChecklistItem(models.Model):
    """One step of letting a customer go, ticked by whoever did it."""

    class Step(models.TextChoices):
        SETTLE_INVOICES = "settle_invoices", "Settle the open invoices"
        HAND_OVER_TICKETS = "hand_over_tickets", "Hand over the open tickets"
        INFORM_ACCOUNT_MANAGER = "inform_account_manager", "Inform the account manager"
        END_CHARTER = "end_charter", "End the charter"
        EXPORT_HISTORY = "export_history", "Export the customer's history"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="checklist")
    step = models.CharField(max_length=32, choices=Step.choices)
    position = models.PositiveSmallIntegerField(default=0)
    detail = models.CharField(max_length=300, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["case", "position", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "step"], name="cx_checklist_step_once_per_case"
            ),
            models.CheckConstraint(
                condition=Q(done_by__isnull=True) | Q(done_at__isnull=False),
                name="cx_checklist_done_by_has_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_step_display()} ({'done' if self.done_at else 'to do'})"

    @property
    def is_done(self) -> bool:
        return self.done_at is not None


class CaseEvent(models.Model):
    """Who did what to a case and when; never edited."""

    class Action(models.TextChoices):
        OPENED = "opened", "Opened"
        ASSIGNED = "assigned", "Assigned"
        REVIEW_STARTED = "review_started", "Review started"
        DECIDED = "decided", "Decided"
        REOPENED = "reopened", "Back to review"
        APPROVED = "approved", "Let-go approved"
        REJECTED = "rejected", "Let-go rejected"
        RELEASED = "released", "Customer released"
        CHECKLIST_TICKED = "checklist_ticked", "Checklist item done"
        CHECKLIST_UNTICKED = "checklist_unticked", "Checklist item reopened"
        FLAG_DECIDED = "flag_decided", "Flag decision"
        NOTE = "note", "Note"
        CLOSED = "closed", "Done"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    from_status = models.CharField(max_length=16, choices=Case.Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=Case.Status.choices, blank=True)
    what = models.CharField(max_length=300, blank=True, help_text="What changed, in words.")
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["case", "at"])]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.get_action_display()} at {self.at:%Y-%m-%d %H:%M}"


class WorklistChange(models.Model):
    """A write to one of the tables the worklist is read from (customers, flags,
    cases), recorded by a database trigger on every statement that writes the table,
    whatever wrote it (a service, an import, an economics run, the admin). Figures
    computed from those tables are cached under where these rows stand
    (``cx.selectors.worklist_version``), so a cached worklist count is never served once
    a row it was computed from changed.

    On PostgreSQL every statement adds a row (no two writers wait on one row; older
    rows are pruned as it goes); on SQLite, which writes one transaction at a time,
    each table has one row, renewed. The triggers are created by the migration and
    again after every ``migrate`` (``cx.triggers``)."""

    source = models.CharField("table", max_length=63, db_index=True)
    changes = models.BigIntegerField(default=1, help_text="Statements that wrote the table.")
    stamp = models.BigIntegerField(
        default=0,
        help_text="Random on every change: a count that comes back after a rollback is "
        "still told apart.",
    )

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.source}: {self.changes} changes"
