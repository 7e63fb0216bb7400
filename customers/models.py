"""The customer and everything that happened between the customer and the company.

Each record that arrives from another system carries that system's identifier as
``external_id``: the natural key imports and the API match on.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO = Decimal("0.00")


def non_negative(field: str, model: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=Q(**{f"{field}__gte": 0}), name=f"{model}_{field}_non_negative"
    )


class CustomerQuerySet(models.QuerySet):
    def visible_to(self, user) -> CustomerQuerySet:
        from accounts.personas import sees_all_customers

        if sees_all_customers(user):
            return self
        return self.filter(account_manager=user)

    def for_list(self) -> CustomerQuerySet:
        return self.select_related("account_manager")


class Customer(models.Model):
    class Status(models.TextChoices):
        PROSPECT = "prospect", "Prospect"
        ACTIVE = "active", "Active"
        DORMANT = "dormant", "Dormant"
        RELEASED = "released", "Released"

    external_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    segment = models.CharField(max_length=80, blank=True)
    industry = models.CharField(max_length=80, blank=True)
    acquisition_channel = models.CharField(max_length=80, blank=True)
    sales_rep = models.CharField(
        "acquiring sales rep", max_length=120, blank=True, help_text="Who won the customer."
    )
    acquired_on = models.DateField(null=True, blank=True)
    acquisition_cost = models.DecimalField(**MONEY, default=ZERO)
    sales_bonus = models.DecimalField(
        "sales bonus paid", **MONEY, default=ZERO, help_text="Bonus paid for winning them."
    )
    account_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="managed_customers",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    released_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            non_negative("acquisition_cost", "customer"),
            non_negative("sales_bonus", "customer"),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="customer_external_id_not_blank"
            ),
            models.CheckConstraint(
                condition=Q(status="released", released_on__isnull=False)
                | (~Q(status="released") & Q(released_on__isnull=True)),
                name="customer_released_on_iff_released",
            ),
        ]
        indexes = [
            models.Index(fields=["account_manager", "name"]),
            # The lists' default order: a page of a million customers without a sort.
            models.Index(fields=["name", "id"], name="customer_name_id"),
            models.Index(fields=["segment"]),
            models.Index(fields=["acquisition_channel"]),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    @property
    def total_acquisition_cost(self) -> Decimal:
        return self.acquisition_cost + self.sales_bonus


class Order(models.Model):
    class Kind(models.TextChoices):
        FIRST = "first", "First purchase"
        REPEAT = "repeat", "Repeat purchase"
        UPGRADE = "upgrade", "Upgrade"
        CROSS_SELL = "cross_sell", "Cross-sell"

    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    date = models.DateField()
    revenue = models.DecimalField(**MONEY)
    cost = models.DecimalField("cost of goods", **MONEY, default=ZERO)
    category = models.CharField("product category", max_length=80, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.REPEAT)

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            non_negative("revenue", "order"),
            non_negative("cost", "order"),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="order_external_id_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["customer", "date"]), models.Index(fields=["date"])]

    def __str__(self) -> str:
        return f"Order {self.external_id}"

    @property
    def gross_margin(self) -> Decimal:
        return self.revenue - self.cost


class Invoice(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="invoices")
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="invoices"
    )
    issued_on = models.DateField()
    due_on = models.DateField()
    paid_on = models.DateField(null=True, blank=True)
    amount = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["-issued_on", "-id"]
        constraints = [
            non_negative("amount", "invoice"),
            models.CheckConstraint(
                condition=Q(due_on__gte=F("issued_on")), name="invoice_due_on_after_issued_on"
            ),
            models.CheckConstraint(
                condition=Q(paid_on__isnull=True) | Q(paid_on__gte=F("issued_on")),
                name="invoice_paid_on_after_issued_on",
            ),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="invoice_external_id_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["customer", "issued_on"])]

    def __str__(self) -> str:
        return f"Invoice {self.external_id}"

    def days_late(self, as_of) -> int:
        """Days past the due date: until payment, or until ``as_of`` while unpaid."""
        end = self.paid_on or as_of
        return max((end - self.due_on).days, 0)


class SupportTicket(models.Model):
    class Priority(models.TextChoices):
        LOW = "low", "Low"
        NORMAL = "normal", "Normal"
        HIGH = "high", "High"
        URGENT = "urgent", "Urgent"

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        PHONE = "phone", "Phone"
        CHAT = "chat", "Chat"
        WEB = "web", "Web form"
        IN_PERSON = "in_person", "In person"
        SOCIAL = "social", "Social media"

    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tickets")
    opened_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    priority = models.CharField(max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    channel = models.CharField(
        "channel / touch point", max_length=16, choices=Channel.choices, default=Channel.EMAIL
    )
    is_complaint = models.BooleanField("complaint", default=False)
    csat = models.PositiveSmallIntegerField(
        "CSAT (1–5)", null=True, blank=True, help_text="Satisfaction score the customer gave."
    )
    subject = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_response_at__isnull=True)
                | Q(first_response_at__gte=F("opened_at")),
                name="ticket_first_response_after_opened",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=F("opened_at")),
                name="ticket_resolved_after_opened",
            ),
            models.CheckConstraint(
                condition=Q(csat__isnull=True) | Q(csat__gte=1, csat__lte=5),
                name="ticket_csat_between_1_and_5",
            ),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="ticket_external_id_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["customer", "opened_at"])]

    def __str__(self) -> str:
        return f"Ticket {self.external_id}"


class ActivityType(models.Model):
    """A kind of work done for customers, priced per unit (activity-based costing)."""

    class Kind(models.TextChoices):
        SERVICE = "service", "Service work"
        CONCESSION = "concession", "Concession or credit"
        LISTENING = "listening", "Listening (review, survey call)"
        SURPRISE = "surprise", "Surprise delivered"
        PREFERRED = "preferred", "Preferred treatment"

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SERVICE)
    unit = models.CharField(max_length=40, default="each")
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def unit_cost_on(self, day) -> Decimal:
        """The unit cost in force on ``day`` (zero before the first rate)."""
        rate = self.rates.filter(effective_from__lte=day).order_by("-effective_from").first()
        return rate.unit_cost if rate else ZERO


class ActivityRate(models.Model):
    """The unit cost of an activity type from a date on; older rates are kept."""

    activity_type = models.ForeignKey(ActivityType, on_delete=models.CASCADE, related_name="rates")
    effective_from = models.DateField()
    unit_cost = models.DecimalField(**MONEY)

    class Meta:
        ordering = ["activity_type", "-effective_from"]
        constraints = [
            non_negative("unit_cost", "activity_rate"),
            models.UniqueConstraint(
                fields=["activity_type", "effective_from"], name="activity_rate_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.activity_type}: {self.unit_cost} from {self.effective_from}"


class ServiceActivity(models.Model):
    """Work done for one customer: ``quantity`` units of an activity type on a date.
    ``amount`` carries the money given away where the activity is a concession."""

    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="activities")
    activity_type = models.ForeignKey(
        ActivityType, on_delete=models.PROTECT, related_name="activities"
    )
    date = models.DateField()
    quantity = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("1"))
    amount = models.DecimalField(
        **MONEY, default=ZERO, help_text="Value of a concession or credit, if any."
    )
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name_plural = "service activities"
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="activity_quantity_positive"),
            non_negative("amount", "activity"),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="activity_external_id_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["customer", "date"])]

    def __str__(self) -> str:
        return f"{self.activity_type} × {self.quantity} on {self.date}"


class Referral(models.Model):
    """One customer brought another (or a prospect not yet a customer)."""

    external_id = models.CharField(max_length=64, unique=True)
    referrer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="referrals_made")
    referred = models.ForeignKey(
        Customer,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="referred_by",
    )
    referred_name = models.CharField(
        max_length=200, blank=True, help_text="The prospect's name while not yet a customer."
    )
    date = models.DateField()

    class Meta:
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(referrer=F("referred")), name="referral_not_self"),
            models.CheckConstraint(
                condition=Q(referred__isnull=False) | ~Q(referred_name=""),
                name="referral_names_who_was_referred",
            ),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="referral_external_id_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["referrer", "date"])]

    def __str__(self) -> str:
        return f"{self.referrer} referred {self.referred or self.referred_name}"


class Feedback(models.Model):
    class Kind(models.TextChoices):
        SURVEY = "survey", "Survey"
        NPS = "nps", "NPS survey"
        INTERVIEW = "interview", "Interview"
        SUGGESTION = "suggestion", "Suggestion"

    external_id = models.CharField(max_length=64, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="feedback")
    date = models.DateField()
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.SURVEY)
    score = models.PositiveSmallIntegerField(
        "NPS score (0–10)", null=True, blank=True, help_text="How likely to recommend us."
    )
    insight = models.TextField(blank=True, help_text="An idea or insight the customer gave.")

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name_plural = "feedback"
        constraints = [
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=10),
                name="feedback_score_between_0_and_10",
            ),
            models.CheckConstraint(
                condition=~Q(external_id=""), name="feedback_external_id_not_blank"
            ),
        ]
        indexes = [models.Index(fields=["customer", "date"])]

    def __str__(self) -> str:
        return f"Feedback {self.external_id}"

    @property
    def gave_insight(self) -> bool:
        return bool(self.insight.strip())
