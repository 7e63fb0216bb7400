"""What the company promises a customer in return for the role it asks them to play."""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from customers.models import MONEY
from roles.models import TARGET, Charter, Direction, RoleBlueprint


class CommitmentKind(models.TextChoices):
    EXPERIENCE = "experience", "Experiences promised"
    SERVICE_LEVEL = "service_level", "Service level"
    LISTENING = "listening", "Listening mechanisms"
    RESPONSE = "response", "Response level"
    RESOLUTION = "resolution", "Problem resolution"
    PREFERRED = "preferred", "Preferred treatment"
    CONSISTENCY = "consistency", "Consistency across touch points"
    SURPRISE = "surprise", "Surprises"


class Commitment(models.Model):
    """A promise attached to a role blueprint. Measurable ones name a metric and a
    target; any may carry a yearly cost that flows into the cost to serve."""

    blueprint = models.ForeignKey(
        RoleBlueprint, on_delete=models.CASCADE, related_name="commitments"
    )
    kind = models.CharField(max_length=16, choices=CommitmentKind.choices)
    title = models.CharField(max_length=160)
    description = models.TextField(blank=True)
    metric = models.CharField(max_length=64, blank=True, help_text="Key of a catalogue metric.")
    metric_params = models.JSONField(
        default=dict, blank=True, help_text="The metric's parameters, e.g. target hours."
    )
    target = models.DecimalField(**TARGET, null=True, blank=True)
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.AT_LEAST
    )
    weight = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1"))
    yearly_cost = models.DecimalField(**MONEY, default=Decimal("0.00"))

    class Meta:
        ordering = ["blueprint", "kind", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(yearly_cost__gte=0), name="commitment_yearly_cost_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=0), name="commitment_weight_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(metric="", target__isnull=True)
                | Q(metric__gt="", target__isnull=False),
                name="commitment_metric_and_target_together",
            ),
            models.UniqueConstraint(
                fields=["blueprint", "title"], name="commitment_title_unique_per_blueprint"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.blueprint}: {self.title}"

    @property
    def is_measurable(self) -> bool:
        return bool(self.metric)


class CommitmentOverride(models.Model):
    """A charter's own target or cost for one of its blueprint's commitments."""

    charter = models.ForeignKey(
        Charter, on_delete=models.CASCADE, related_name="commitment_overrides"
    )
    commitment = models.ForeignKey(Commitment, on_delete=models.CASCADE, related_name="overrides")
    target = models.DecimalField(**TARGET, null=True, blank=True)
    yearly_cost = models.DecimalField(**MONEY, null=True, blank=True)
    excluded = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["charter", "commitment"], name="commitment_override_once_per_charter"
            ),
            models.CheckConstraint(
                condition=Q(yearly_cost__isnull=True) | Q(yearly_cost__gte=0),
                name="commitment_override_cost_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.charter}: {self.commitment.title}"


class ServiceCalendar(models.Model):
    """The company's working hours: response and resolution times are counted in
    business hours of this calendar, as help-desk SLA tools do. One row is in use."""

    name = models.CharField(max_length=80, default="Company calendar")
    opens = models.TimeField(default="09:00")
    closes = models.TimeField(default="17:00")
    working_days = models.CharField(
        max_length=7,
        default="01234",
        help_text="Working weekdays as digits, Monday = 0 … Sunday = 6 (e.g. 01234).",
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(closes__gt=models.F("opens")),
                name="calendar_closes_after_it_opens",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        days = self.working_days or ""
        if not days or any(c not in "0123456" for c in days) or len(set(days)) != len(days):
            raise ValidationError({"working_days": "Use distinct digits 0 (Monday) to 6."})


class Holiday(models.Model):
    calendar = models.ForeignKey(ServiceCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField()
    name = models.CharField(max_length=80, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="holiday_once_per_day"),
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}".strip()
