"""factory_boy factories for the whole domain."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from accounts.models import User
from accounts.personas import Persona
from commitments.models import Commitment, CommitmentKind, CommitmentOverride
from customers.models import (
    ActivityRate,
    ActivityType,
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)
from roles.models import (
    Charter,
    CharterEvent,
    ExpectationOverride,
    LifecycleExpectation,
    LifecycleStage,
    RoleBlueprint,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ["username"]
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password("correct-horse-battery")

    @factory.post_generation
    def persona(self, create, extracted: Persona | None, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get_or_create(name=extracted.value)[0])
            if extracted == Persona.ADMIN:
                self.is_staff = self.is_superuser = True
                self.save(update_fields=["is_staff", "is_superuser"])


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    external_id = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Faker("company")
    segment = "Mid-market"
    industry = "Retail"
    acquisition_channel = "Direct sales"
    sales_rep = "Sam Seller"
    acquired_on = dt.date(2024, 1, 15)
    acquisition_cost = Decimal("500.00")
    sales_bonus = Decimal("100.00")
    status = Customer.Status.ACTIVE


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    external_id = factory.Sequence(lambda n: f"O{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    date = dt.date(2024, 2, 1)
    revenue = Decimal("1000.00")
    cost = Decimal("600.00")
    category = "Hardware"
    kind = Order.Kind.REPEAT


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    external_id = factory.Sequence(lambda n: f"I{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    issued_on = dt.date(2024, 2, 1)
    due_on = factory.LazyAttribute(lambda i: i.issued_on + dt.timedelta(days=30))
    paid_on = factory.LazyAttribute(lambda i: i.issued_on + dt.timedelta(days=20))
    amount = Decimal("1000.00")


class SupportTicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportTicket

    external_id = factory.Sequence(lambda n: f"T{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    opened_at = factory.LazyFunction(lambda: dt.datetime(2024, 3, 4, 9, 0, tzinfo=dt.UTC))
    first_response_at = factory.LazyAttribute(lambda t: t.opened_at + dt.timedelta(hours=2))
    resolved_at = factory.LazyAttribute(lambda t: t.opened_at + dt.timedelta(hours=20))
    priority = SupportTicket.Priority.NORMAL
    channel = SupportTicket.Channel.EMAIL
    is_complaint = False
    subject = "Question about an invoice"


class ActivityTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivityType
        django_get_or_create = ["code"]

    code = factory.Sequence(lambda n: f"activity-{n}")
    name = factory.LazyAttribute(lambda a: a.code.replace("-", " ").title())
    kind = ActivityType.Kind.SERVICE


class ActivityRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ActivityRate

    activity_type = factory.SubFactory(ActivityTypeFactory)
    effective_from = dt.date(2020, 1, 1)
    unit_cost = Decimal("150.00")


class ServiceActivityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceActivity

    external_id = factory.Sequence(lambda n: f"A{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    activity_type = factory.SubFactory(ActivityTypeFactory)
    date = dt.date(2024, 4, 1)
    quantity = Decimal("1")


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral

    external_id = factory.Sequence(lambda n: f"R{n:06d}")
    referrer = factory.SubFactory(CustomerFactory)
    referred_name = "Prospect Ltd"
    date = dt.date(2024, 5, 1)


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feedback

    external_id = factory.Sequence(lambda n: f"F{n:06d}")
    customer = factory.SubFactory(CustomerFactory)
    date = dt.date(2024, 6, 1)
    kind = Feedback.Kind.NPS
    score = 9


class RoleBlueprintFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoleBlueprint

    name = factory.Sequence(lambda n: f"Growth account {n}")
    purchases_per_year = Decimal("6")
    annual_value = Decimal("20000.00")
    relationship_length_months = 36


class LifecycleExpectationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LifecycleExpectation

    blueprint = factory.SubFactory(RoleBlueprintFactory)
    stage = LifecycleStage.REPEAT_PURCHASE
    metric = "repeat_purchases_per_year"
    target = Decimal("4")
    weight = Decimal("1")


class CharterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Charter

    customer = factory.SubFactory(CustomerFactory)
    blueprint = factory.SubFactory(RoleBlueprintFactory)
    version = 1
    status = Charter.Status.DRAFT


class AgreedCharterFactory(CharterFactory):
    status = Charter.Status.AGREED
    agreed_on = dt.date(2024, 2, 1)
    agreed_by = "Jane Buyer"


class ExpectationOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExpectationOverride

    charter = factory.SubFactory(CharterFactory)
    expectation = factory.SubFactory(LifecycleExpectationFactory)
    target = Decimal("2")


class CharterEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CharterEvent

    charter = factory.SubFactory(CharterFactory)
    action = "created"
    to_status = Charter.Status.DRAFT


class CommitmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Commitment

    blueprint = factory.SubFactory(RoleBlueprintFactory)
    kind = CommitmentKind.RESPONSE
    title = factory.Sequence(lambda n: f"First response within 4 business hours ({n})")
    metric = "first_response_within_target_share"
    target = Decimal("0.95")
    yearly_cost = Decimal("0.00")


class CommitmentOverrideFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommitmentOverride

    charter = factory.SubFactory(CharterFactory)
    commitment = factory.SubFactory(CommitmentFactory)
    yearly_cost = Decimal("6000.00")


def aware(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)
