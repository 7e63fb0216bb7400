"""The cost model, economics runs and what they compute: per-customer scores, company
KPIs and the flags that feed the CX worklist."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from customers.models import MONEY, Customer

ZERO = Decimal("0.00")
RATE = {"max_digits": 6, "decimal_places": 4}


class WorkerHeartbeat(models.Model):
    """A beat written by a Celery worker; its age tells whether background work runs."""

    hostname = models.CharField(max_length=200)
    at = models.DateTimeField()
    eager = models.BooleanField(default=False, help_text="Ran in-process, without a broker.")

    class Meta:
        ordering = ["-at"]
        get_latest_by = "at"

    def __str__(self) -> str:
        return f"{self.hostname} at {self.at:%Y-%m-%d %H:%M:%S}"


class CostModel(models.Model):
    """What serving customers costs, and the thresholds of flags and classes. One row is
    in force; every run keeps a copy of the values it used. Unit costs of activities
    live with the activity types (customers.ActivityRate), dated."""

    ticket_handling_cost = models.DecimalField(
        "handling cost of a ticket", **MONEY, default=Decimal("25.00")
    )
    complaint_handling_cost = models.DecimalField(
        "handling cost of a complaint", **MONEY, default=Decimal("120.00")
    )
    collection_cost_per_late_invoice = models.DecimalField(
        "collection cost per late invoice", **MONEY, default=Decimal("15.00")
    )
    cost_of_capital_rate = models.DecimalField(
        "yearly cost of capital on days late",
        **RATE,
        default=Decimal("0.0800"),
        help_text="0.08 = 8 % a year on the amount, for each day past due.",
    )
    annual_discount_rate = models.DecimalField(
        **RATE, default=Decimal("0.1000"), help_text="Discounts future margin: 0.10 = 10 %."
    )
    forecast_horizon_months = models.PositiveIntegerField(default=36)
    role_fit_threshold = models.DecimalField(
        "a customer fits its role from this role fit on",
        max_digits=5,
        decimal_places=2,
        default=Decimal("70"),
    )
    compliance_threshold = models.DecimalField(
        "we fail a customer below this compliance",
        max_digits=5,
        decimal_places=2,
        default=Decimal("60"),
    )
    costly_to_serve_ratio = models.DecimalField(
        "costly to serve above this share of annual gross margin",
        **RATE,
        default=Decimal("1.0000"),
        help_text="1.0 = serving them this year cost more than the margin they brought.",
    )
    unhappy_complaints_multiple = models.DecimalField(
        "inherently unhappy: complaints this many times the segment's average",
        max_digits=5,
        decimal_places=2,
        default=Decimal("3.00"),
    )
    unhappy_min_complaints_per_year = models.DecimalField(
        "…and at least this many complaints a year", max_digits=5, decimal_places=2,
        default=Decimal("2.00"),
    )  # fmt: skip
    unhappy_forgiveness_below = models.DecimalField(
        "…and forgiveness below", **RATE, default=Decimal("0.5000")
    )
    at_risk_p_alive_below = models.DecimalField(
        "at risk below this probability of being active", **RATE, default=Decimal("0.3000")
    )
    runs_kept = models.PositiveIntegerField(
        "economics runs kept", default=30, help_text="Older runs are pruned after a good run."
    )
    nightly_run = models.BooleanField(default=True, help_text="Run the economics every night.")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(ticket_handling_cost__gte=0)
                & Q(complaint_handling_cost__gte=0)
                & Q(collection_cost_per_late_invoice__gte=0),
                name="cost_model_costs_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(cost_of_capital_rate__gte=0, cost_of_capital_rate__lte=1),
                name="cost_model_capital_rate_0_to_1",
            ),
            models.CheckConstraint(
                condition=Q(annual_discount_rate__gte=0, annual_discount_rate__lte=1),
                name="cost_model_discount_rate_0_to_1",
            ),
            models.CheckConstraint(
                condition=Q(forecast_horizon_months__gte=1, forecast_horizon_months__lte=120),
                name="cost_model_horizon_1_to_120_months",
            ),
            models.CheckConstraint(
                condition=Q(role_fit_threshold__gte=0, role_fit_threshold__lte=100)
                & Q(compliance_threshold__gte=0, compliance_threshold__lte=100),
                name="cost_model_scores_0_to_100",
            ),
            models.CheckConstraint(
                condition=Q(at_risk_p_alive_below__gte=0, at_risk_p_alive_below__lte=1)
                & Q(unhappy_forgiveness_below__gte=0, unhappy_forgiveness_below__lte=1),
                name="cost_model_probabilities_0_to_1",
            ),
            models.CheckConstraint(condition=Q(runs_kept__gte=2), name="cost_model_keeps_two_runs"),
        ]

    def __str__(self) -> str:
        return "Cost model"


class EconomicsRun(models.Model):
    """One computation of the economics as of a date. Its results become visible all at
    once, when it succeeds and becomes the current run."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    class Trigger(models.TextChoices):
        UI = "ui", "Run now"
        API = "api", "API"
        SCHEDULE = "schedule", "Nightly schedule"
        CLI = "cli", "Command line"

    as_of = models.DateField()
    holdout_end = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    active = models.BooleanField(
        null=True, default=True, help_text="True while queued or running; one at a time."
    )
    is_current = models.BooleanField(null=True, default=None)
    trigger = models.CharField(max_length=10, choices=Trigger.choices, default=Trigger.UI)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    stage = models.CharField(max_length=60, blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    model = models.JSONField(default=dict, blank=True)
    kpis = models.JSONField(default=dict, blank=True)
    holdout = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True)
    customers = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_by = models.CharField(
        max_length=120,
        blank=True,
        help_text="host:pid of the process computing the run (or that computed it last).",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=Q(active=True), name="economics_one_active_run"
            ),
            models.UniqueConstraint(
                fields=["is_current"],
                condition=Q(is_current=True),
                name="economics_one_current_run",
            ),
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="economics_progress_at_most_100"
            ),
            models.CheckConstraint(
                condition=Q(active=True, status__in=["queued", "running"])
                | Q(active__isnull=True, status__in=["succeeded", "failed"]),
                name="economics_active_iff_queued_or_running",
            ),
            models.CheckConstraint(
                condition=Q(is_current__isnull=True) | Q(status="succeeded"),
                name="economics_current_run_succeeded",
            ),
            models.CheckConstraint(
                condition=Q(holdout_end__isnull=True) | Q(holdout_end__gt=models.F("as_of")),
                name="economics_holdout_after_as_of",
            ),
        ]

    def __str__(self) -> str:
        return f"Economics run #{self.pk} as of {self.as_of} ({self.get_status_display()})"

    @property
    def duration_s(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None


class CustomerClass(models.TextChoices):
    PARTNER = "partner", "Partner — love them"
    DEVELOP = "develop", "Develop — renegotiate or grow"
    FIX = "fix_our_side", "Fix our side"
    REPRICE = "reprice", "Reprice"
    LET_GO = "let_go", "Let go candidate"
    NO_ROLE = "no_role", "No role agreed"


class CustomerScore(models.Model):
    """Everything a run computed for one customer, as of the run's date. On PostgreSQL
    the table is partitioned by run (``economics.partitions``)."""

    # No index of their own: (run, clv), (run, customer) and (customer, run) cover them.
    run = models.ForeignKey(
        EconomicsRun, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="scores", db_index=False
    )

    revenue = models.DecimalField(**MONEY, default=ZERO)
    gross_margin = models.DecimalField(**MONEY, default=ZERO)
    cost_activities = models.DecimalField(**MONEY, default=ZERO)
    cost_tickets = models.DecimalField(**MONEY, default=ZERO)
    cost_complaints = models.DecimalField(**MONEY, default=ZERO)
    cost_concessions = models.DecimalField(**MONEY, default=ZERO)
    cost_collection = models.DecimalField(**MONEY, default=ZERO)
    cost_commitments = models.DecimalField(**MONEY, default=ZERO)
    cost_to_serve = models.DecimalField(**MONEY, default=ZERO)
    acquisition_cost = models.DecimalField(**MONEY, default=ZERO)
    profit_to_date = models.DecimalField(**MONEY, default=ZERO)
    annual_value = models.DecimalField(**MONEY, default=ZERO)
    annual_cost_to_serve = models.DecimalField(**MONEY, default=ZERO)
    annual_profit = models.DecimalField(**MONEY, default=ZERO)

    frequency = models.PositiveIntegerField(default=0)
    recency_weeks = models.FloatField(default=0)
    age_weeks = models.FloatField(default=0)
    p_alive = models.FloatField(null=True, blank=True)
    expected_purchases = models.FloatField(null=True, blank=True)
    expected_margin_per_purchase = models.DecimalField(**MONEY, null=True, blank=True)
    future_margin = models.DecimalField(**MONEY, default=ZERO)
    future_cost_to_serve = models.DecimalField(**MONEY, default=ZERO)
    predicted_future_value = models.DecimalField(**MONEY, default=ZERO)
    clv = models.DecimalField("customer lifetime value", **MONEY, default=ZERO)

    role_fit = models.FloatField(null=True, blank=True)
    compliance = models.FloatField(null=True, blank=True)
    complaints_per_year = models.FloatField(default=0)
    complaints_last_year = models.PositiveIntegerField(default=0)
    complaint_concessions_last_year = models.DecimalField(**MONEY, default=ZERO)
    purchases_last_year = models.PositiveIntegerField(default=0)
    forgiveness = models.FloatField(null=True, blank=True)
    holdout_predicted = models.FloatField(null=True, blank=True)
    holdout_actual = models.PositiveIntegerField(null=True, blank=True)
    klass = models.CharField("class", max_length=16, choices=CustomerClass.choices)
    flags = models.JSONField(default=list, blank=True)
    flag_mask = models.PositiveSmallIntegerField(
        default=0, help_text="The flags as bits, in the order of economics.engine.FLAG_KINDS."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "customer"], name="score_once_per_run"),
            models.CheckConstraint(
                condition=Q(p_alive__isnull=True) | Q(p_alive__gte=0, p_alive__lte=1),
                name="score_p_alive_is_a_probability",
            ),
            models.CheckConstraint(
                condition=Q(cost_to_serve__gte=0) & Q(acquisition_cost__gte=0),
                name="score_costs_non_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["run", "clv"]),
            models.Index(fields=["run", "klass"]),
            models.Index(fields=["customer", "run"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer} in run #{self.run_id}"

    @property
    def clv_negative(self) -> bool:
        return self.clv < 0


class FlagKind(models.TextChoices):
    UNPROFITABLE = "unprofitable", "Unprofitable"
    COSTLY = "costly_to_serve", "Costly to serve"
    UNHAPPY = "inherently_unhappy", "Inherently unhappy"
    AT_RISK = "at_risk", "At risk"
    FAILED_BY_US = "failed_by_us", "Failed by us"


class CustomerFlag(models.Model):
    """A condition a run found for a customer. It stays open, with whatever a person
    decided about it, for as long as runs keep finding it; the first run that no longer
    does closes it. Closed flags are the history."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    class Decision(models.TextChoices):
        NONE = "", "Not decided"
        ACCEPTED = "accepted", "Accepted"
        DISMISSED = "dismissed", "Dismissed"
        SNOOZED = "snoozed", "Snoozed"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="flags")
    kind = models.CharField(max_length=20, choices=FlagKind.choices)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    detail = models.CharField(max_length=300, blank=True)
    raised_by = models.ForeignKey(
        EconomicsRun, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Written when the flag closes. While it is open, the run that last found it is the
    # current run; not writing it on every run saves a key check per open flag.
    last_seen_by = models.ForeignKey(
        EconomicsRun,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="The last run that found it, recorded when it closes.",
    )
    closed_by = models.ForeignKey(
        EconomicsRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=10, choices=Decision.choices, default="", blank=True)
    decision_reason = models.TextField(blank=True)
    snoozed_until = models.DateField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind"],
                condition=Q(status="open"),
                name="flag_one_open_per_customer_and_kind",
            ),
            models.CheckConstraint(
                condition=Q(status="open", closed_at__isnull=True)
                | Q(status="closed", closed_at__isnull=False),
                name="flag_closed_at_iff_closed",
            ),
            models.CheckConstraint(
                condition=~Q(decision="dismissed") | ~Q(decision_reason=""),
                name="flag_dismissal_has_a_reason",
            ),
            models.CheckConstraint(
                condition=~Q(decision="snoozed") | Q(snoozed_until__isnull=False),
                name="flag_snooze_has_an_end",
            ),
        ]
        indexes = [models.Index(fields=["status", "kind"])]

    def __str__(self) -> str:
        return f"{self.customer}: {self.get_kind_display()} ({self.get_status_display()})"
