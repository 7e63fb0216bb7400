"""What must always hold is a database constraint: each test writes a row that breaks
one rule, bypassing forms and services, and expects the database to refuse it."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from customers.models import Customer, Order, Referral
from roles.models import Charter, LifecycleExpectation
from tests.factories import (
    ActivityRateFactory,
    AgreedCharterFactory,
    CharterFactory,
    CommitmentFactory,
    CustomerFactory,
    FeedbackFactory,
    InvoiceFactory,
    LifecycleExpectationFactory,
    OrderFactory,
    ReferralFactory,
    RoleBlueprintFactory,
    ServiceActivityFactory,
    SupportTicketFactory,
    aware,
)

pytestmark = pytest.mark.django_db


def refused(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_customer_external_id_is_unique():
    CustomerFactory(external_id="ACME")
    refused(lambda: CustomerFactory(external_id="ACME"))


def test_customer_external_id_cannot_be_blank():
    refused(lambda: CustomerFactory(external_id=""))


def test_customer_money_cannot_be_negative():
    refused(lambda: CustomerFactory(acquisition_cost=Decimal("-1")))
    refused(lambda: CustomerFactory(sales_bonus=Decimal("-0.01")))


def test_a_released_customer_has_a_release_date_and_only_then():
    refused(lambda: CustomerFactory(status=Customer.Status.RELEASED, released_on=None))
    refused(lambda: CustomerFactory(status=Customer.Status.ACTIVE, released_on=dt.date(2024, 1, 1)))
    CustomerFactory(status=Customer.Status.RELEASED, released_on=dt.date(2024, 1, 1))


def test_order_external_id_is_unique_and_money_non_negative():
    OrderFactory(external_id="O-1")
    refused(lambda: OrderFactory(external_id="O-1"))
    refused(lambda: OrderFactory(revenue=Decimal("-5")))
    refused(lambda: OrderFactory(cost=Decimal("-5")))


def test_order_money_is_decimal():
    order = OrderFactory(revenue=Decimal("10.10"), cost=Decimal("3.05"))
    order.refresh_from_db()
    assert isinstance(order.revenue, Decimal)
    assert order.gross_margin == Decimal("7.05")


def test_invoice_is_due_on_or_after_issue():
    refused(lambda: InvoiceFactory(issued_on=dt.date(2024, 2, 1), due_on=dt.date(2024, 1, 31)))
    InvoiceFactory(issued_on=dt.date(2024, 2, 1), due_on=dt.date(2024, 2, 1))


def test_invoice_is_paid_on_or_after_issue_and_amount_non_negative():
    refused(lambda: InvoiceFactory(issued_on=dt.date(2024, 2, 1), paid_on=dt.date(2024, 1, 1)))
    refused(lambda: InvoiceFactory(amount=Decimal("-1")))


def test_invoice_days_late_counts_until_payment_or_as_of():
    invoice = InvoiceFactory.build(
        issued_on=dt.date(2024, 1, 1), due_on=dt.date(2024, 1, 31), paid_on=dt.date(2024, 2, 10)
    )
    assert invoice.days_late(dt.date(2025, 1, 1)) == 10
    invoice.paid_on = None
    assert invoice.days_late(dt.date(2024, 2, 5)) == 5
    assert invoice.days_late(dt.date(2024, 1, 5)) == 0


def test_ticket_is_resolved_and_answered_after_it_was_opened():
    opened = aware(2024, 3, 4, 9)
    refused(lambda: SupportTicketFactory(opened_at=opened, resolved_at=aware(2024, 3, 4, 8)))
    refused(lambda: SupportTicketFactory(opened_at=opened, first_response_at=aware(2024, 3, 3)))


def test_ticket_csat_is_between_one_and_five():
    refused(lambda: SupportTicketFactory(csat=6))
    refused(lambda: SupportTicketFactory(csat=0))
    SupportTicketFactory(csat=5)


def test_activity_rate_one_per_type_and_day_and_non_negative():
    rate = ActivityRateFactory(effective_from=dt.date(2024, 1, 1))
    refused(
        lambda: ActivityRateFactory(
            activity_type=rate.activity_type, effective_from=dt.date(2024, 1, 1)
        )
    )
    refused(lambda: ActivityRateFactory(unit_cost=Decimal("-1")))


def test_unit_cost_in_force_on_a_date():
    old = ActivityRateFactory(effective_from=dt.date(2023, 1, 1), unit_cost=Decimal("100"))
    ActivityRateFactory(
        activity_type=old.activity_type,
        effective_from=dt.date(2024, 1, 1),
        unit_cost=Decimal("120"),
    )
    kind = old.activity_type
    assert kind.unit_cost_on(dt.date(2022, 12, 31)) == Decimal("0")
    assert kind.unit_cost_on(dt.date(2023, 6, 1)) == Decimal("100")
    assert kind.unit_cost_on(dt.date(2024, 1, 1)) == Decimal("120")


def test_activity_quantity_is_positive():
    refused(lambda: ServiceActivityFactory(quantity=Decimal("0")))


def test_a_customer_cannot_refer_itself():
    customer = CustomerFactory()
    refused(lambda: ReferralFactory(referrer=customer, referred=customer))


def test_a_referral_names_who_was_referred():
    refused(lambda: ReferralFactory(referred=None, referred_name=""))
    assert Referral.objects.count() == 0


def test_feedback_score_is_between_zero_and_ten():
    refused(lambda: FeedbackFactory(score=11))
    FeedbackFactory(score=0)


def test_one_agreed_charter_per_customer():
    charter = AgreedCharterFactory()
    refused(
        lambda: AgreedCharterFactory(
            customer=charter.customer, blueprint=charter.blueprint, version=2
        )
    )
    CharterFactory(customer=charter.customer, blueprint=charter.blueprint, version=2)
    assert Charter.objects.filter(customer=charter.customer).count() == 2


def test_one_open_charter_per_customer():
    charter = CharterFactory(status=Charter.Status.DRAFT)
    refused(
        lambda: CharterFactory(customer=charter.customer, version=2, status=Charter.Status.PROPOSED)
    )


def test_charter_versions_are_unique_per_customer():
    charter = AgreedCharterFactory()
    refused(lambda: CharterFactory(customer=charter.customer, version=1))


def test_an_agreed_charter_has_a_date_and_a_signatory():
    refused(lambda: CharterFactory(status=Charter.Status.AGREED, agreed_on=None, agreed_by="X"))
    refused(
        lambda: CharterFactory(
            status=Charter.Status.AGREED, agreed_on=dt.date(2024, 1, 1), agreed_by=""
        )
    )


def test_an_expectation_is_measured_or_left_out_with_a_reason():
    blueprint = RoleBlueprintFactory()
    refused(lambda: LifecycleExpectationFactory(blueprint=blueprint, metric="", target=None))
    refused(
        lambda: LifecycleExpectationFactory(
            blueprint=blueprint, excluded=True, exclusion_reason="", metric="", target=None
        )
    )
    LifecycleExpectationFactory(
        blueprint=blueprint,
        excluded=True,
        exclusion_reason="Awareness is marketing's job",
        metric="",
        target=None,
    )
    assert LifecycleExpectation.objects.filter(blueprint=blueprint).count() == 1


def test_one_expectation_per_stage_in_a_blueprint():
    expectation = LifecycleExpectationFactory()
    refused(lambda: LifecycleExpectationFactory(blueprint=expectation.blueprint))


def test_commitment_cost_is_non_negative_and_metric_comes_with_a_target():
    refused(lambda: CommitmentFactory(yearly_cost=Decimal("-1")))
    refused(lambda: CommitmentFactory(metric="first_response_within_target_share", target=None))
    refused(lambda: CommitmentFactory(metric="", target=Decimal("1")))
    CommitmentFactory(metric="", target=None, title="A surprise each year")


def test_a_retired_blueprint_knows_when():
    refused(lambda: RoleBlueprintFactory(status="retired", retired_at=None))


def test_deleting_a_customer_removes_its_history():
    order = OrderFactory()
    order.customer.delete()
    assert not Order.objects.exists()
