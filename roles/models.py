"""What the company expects of a customer: role blueprints and the charters that
assign one to a customer."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from customers.models import MONEY, Customer


class Direction(models.TextChoices):
    AT_LEAST = "at_least", "at least (higher is better)"
    AT_MOST = "at_most", "at most (lower is better)"


TARGET = {"max_digits": 14, "decimal_places": 4}


class RoleBlueprint(models.Model):
    """A reusable definition of a customer's role, e.g. "Strategic partner"."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RETIRED = "retired", "Retired"

    name = models.CharField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)

    # The quantitative targets of the role.
    relationship_length_months = models.PositiveIntegerField(
        "relationship length (months)", null=True, blank=True
    )
    purchases_per_year = models.DecimalField(**TARGET, null=True, blank=True)
    purchase_value = models.DecimalField(
        "monetary value per purchase", **MONEY, null=True, blank=True
    )
    lifetime_value = models.DecimalField(**MONEY, null=True, blank=True)
    annual_value = models.DecimalField(**MONEY, null=True, blank=True)
    annual_value_growth_pct = models.DecimalField(
        "growth in annual value (%)", max_digits=7, decimal_places=2, null=True, blank=True
    )
    referrals_per_year = models.DecimalField(**TARGET, null=True, blank=True)
    insights_per_year = models.DecimalField(
        "insights / feedback per year", **TARGET, null=True, blank=True
    )
    cross_sell_products = models.CharField("products to cross-sell", max_length=300, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(purchases_per_year__isnull=True) | Q(purchases_per_year__gte=0),
                name="blueprint_purchases_per_year_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(purchase_value__isnull=True) | Q(purchase_value__gte=0),
                name="blueprint_purchase_value_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(annual_value__isnull=True) | Q(annual_value__gte=0),
                name="blueprint_annual_value_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(referrals_per_year__isnull=True) | Q(referrals_per_year__gte=0),
                name="blueprint_referrals_per_year_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(insights_per_year__isnull=True) | Q(insights_per_year__gte=0),
                name="blueprint_insights_per_year_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(status="retired", retired_at__isnull=False)
                | Q(status="active", retired_at__isnull=True),
                name="blueprint_retired_at_iff_retired",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LifecycleStage(models.TextChoices):
    """The eleven lifecycle aspects of a well defined customer role."""

    AWARENESS = "awareness", "Awareness"
    PURCHASE = "purchase", "Purchase"
    REPEAT_PURCHASE = "repeat_purchase", "Repeat purchase"
    UPGRADE = "upgrade", "Upgrade"
    ON_TIME_PAYMENT = "on_time_payment", "On-time payment"
    REFERRALS = "referrals", "Referrals"
    EVANGELIZING = "evangelizing", "Evangelizing"
    FORGIVENESS = "forgiveness", "Forgiveness"
    FEEDBACK = "feedback", "Feedback providing"
    LONG_TERM = "long_term", "Long-term relationship"
    HIGH_MARGINS = "high_margins", "High margins"


class LifecycleExpectation(models.Model):
    """One measurable expectation of the customer: a metric, a target, a direction
    and a weight in the role fit. It may be left out of a role, with a reason."""

    blueprint = models.ForeignKey(
        RoleBlueprint, on_delete=models.CASCADE, related_name="expectations"
    )
    stage = models.CharField(max_length=24, choices=LifecycleStage.choices)
    metric = models.CharField(max_length=64, blank=True, help_text="Key of a catalogue metric.")
    metric_params = models.JSONField(
        default=dict, blank=True, help_text="The metric's parameters, e.g. days."
    )
    target = models.DecimalField(**TARGET, null=True, blank=True)
    direction = models.CharField(
        max_length=8, choices=Direction.choices, default=Direction.AT_LEAST
    )
    weight = models.DecimalField(max_digits=6, decimal_places=2, default=Decimal("1"))
    excluded = models.BooleanField("left out of this role", default=False)
    exclusion_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["blueprint", "stage"]
        constraints = [
            models.UniqueConstraint(
                fields=["blueprint", "stage"], name="expectation_one_per_stage"
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=0), name="expectation_weight_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(excluded=True, exclusion_reason__gt="")
                | Q(excluded=False, target__isnull=False, metric__gt=""),
                name="expectation_measured_or_excluded_with_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.blueprint}: {self.get_stage_display()}"


class CharterQuerySet(models.QuerySet):
    def visible_to(self, user) -> CharterQuerySet:
        return self.filter(customer__in=Customer.objects.visible_to(user))

    def current(self) -> CharterQuerySet:
        return self.filter(status=Charter.Status.AGREED)


class Charter(models.Model):
    """One blueprint assigned to one customer, possibly with overridden targets.
    A new version supersedes the agreed one; older versions are kept."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PROPOSED = "proposed", "Proposed"
        AGREED = "agreed", "Agreed"
        SUPERSEDED = "superseded", "Superseded"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="charters")
    blueprint = models.ForeignKey(RoleBlueprint, on_delete=models.PROTECT, related_name="charters")
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    target_overrides = models.JSONField(
        default=dict, blank=True, help_text="Quantitative targets that differ from the blueprint."
    )
    agreed_on = models.DateField(null=True, blank=True)
    agreed_by = models.CharField("signatory on the customer side", max_length=200, blank=True)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CharterQuerySet.as_manager()

    class Meta:
        ordering = ["customer", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "version"], name="charter_version_unique"),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status="agreed"),
                name="charter_one_agreed_per_customer",
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status__in=["draft", "proposed"]),
                name="charter_one_open_per_customer",
            ),
            models.CheckConstraint(condition=Q(version__gte=1), name="charter_version_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["draft", "proposed"])
                | (Q(agreed_on__isnull=False) & ~Q(agreed_by="")),
                name="charter_agreed_has_date_and_signatory",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer.name} — {self.blueprint} v{self.version}"


class ExpectationOverride(models.Model):
    """A charter's own target or weight for one of its blueprint's expectations."""

    charter = models.ForeignKey(
        Charter, on_delete=models.CASCADE, related_name="expectation_overrides"
    )
    expectation = models.ForeignKey(
        LifecycleExpectation, on_delete=models.CASCADE, related_name="overrides"
    )
    target = models.DecimalField(**TARGET, null=True, blank=True)
    weight = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    excluded = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["charter", "expectation"], name="expectation_override_once_per_charter"
            ),
            models.CheckConstraint(
                condition=Q(weight__isnull=True) | Q(weight__gte=0),
                name="expectation_override_weight_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.charter}: {self.expectation.get_stage_display()}"


class CharterEvent(models.Model):
    """Who did what to a charter and when; never edited."""

    charter = models.ForeignKey(Charter, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40)
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.charter}: {self.action} at {self.at:%Y-%m-%d %H:%M}"


class CharterShareLink(models.Model):
    """A read-only link for the customer: unguessable, expiring, revocable. Only a hash
    of the token is stored; the link is shown once, when it is made."""

    charter = models.ForeignKey(Charter, on_delete=models.CASCADE, related_name="share_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_opened_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="share_link_expires_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"Share link for {self.charter}"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and self.expires_at > now
