"""``manage.py seed_demo``: a believable, repeatable demo company."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import DecimalField, F, Sum

from commitments.models import Commitment, CommitmentKind
from customers.demo import METRIC_KEYS
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
from roles.models import Charter, CharterEvent, LifecycleExpectation, LifecycleStage, RoleBlueprint

pytestmark = pytest.mark.django_db

END = "2025-06-30"
SMALL = 60

TABLES = [
    Customer,
    Order,
    Invoice,
    SupportTicket,
    ServiceActivity,
    ActivityType,
    ActivityRate,
    Referral,
    Feedback,
    RoleBlueprint,
    LifecycleExpectation,
    Commitment,
    Charter,
    CharterEvent,
]


def seed(*args: str, customers: int = SMALL, seed: int = 42, end: str = END) -> str:
    out = StringIO()
    call_command(
        "seed_demo",
        "--customers",
        str(customers),
        "--seed",
        str(seed),
        "--end",
        end,
        *args,
        stdout=out,
    )
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in TABLES}


def order_rows() -> list[tuple]:
    return list(Order.objects.order_by("external_id").values_list("external_id", "date", "revenue"))


def test_it_fills_every_table_and_prints_a_summary():
    output = seed()

    n = counts()
    assert n["Customer"] == SMALL
    assert n["Order"] > 3 * SMALL
    assert n["Invoice"] == n["Order"]
    for name in ("SupportTicket", "ServiceActivity", "Referral", "Feedback", "Charter"):
        assert n[name] > 0, name
    assert n["ActivityType"] == 8
    assert n["ActivityRate"] == 16
    assert n["RoleBlueprint"] == 3
    assert n["LifecycleExpectation"] == 3 * len(LifecycleStage)
    assert n["Commitment"] == 3 * len(CommitmentKind)
    assert n["CharterEvent"] >= n["Charter"]
    assert "customers" in output
    assert "orders" in output
    assert " s:" in output


def test_customers_are_spread_over_the_account_managers():
    seed(customers=200)

    managers = Counter(Customer.objects.values_list("account_manager__username", flat=True))
    assert {"alice", "bob", "carol"} <= set(managers)
    assert managers[None] < 0.12 * 200
    assert get_user_model().objects.filter(username="exec").exists()
    assert all(
        c.startswith("DEMO-") for c in Customer.objects.values_list("external_id", flat=True)
    )
    assert Customer.objects.filter(orders__kind=Order.Kind.FIRST).distinct().count() == 200


def test_money_is_decimal_with_cents():
    seed()

    money = {
        Customer: ["acquisition_cost", "sales_bonus"],
        Order: ["revenue", "cost"],
        Invoice: ["amount"],
        ServiceActivity: ["amount", "quantity"],
        ActivityRate: ["unit_cost"],
        Commitment: ["yearly_cost"],
    }
    for model, fields in money.items():
        for row in model.objects.values_list(*fields):
            for value in row:
                assert isinstance(value, Decimal), (model, value)
                assert value >= 0
                assert value == value.quantize(Decimal("0.01"))


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows():
    seed(seed=7)
    first = order_rows()
    seed(seed=7)
    assert order_rows() == first

    seed(seed=8)
    assert order_rows() != first


def test_running_it_again_replaces_rather_than_duplicates():
    mine = Customer.objects.create(external_id="REAL-1", name="A real customer")
    seed()
    before = counts()

    output = seed()

    assert counts() == before
    assert "Replaced" in output
    assert Customer.objects.filter(pk=mine.pk).exists()


def test_if_empty_leaves_existing_data_alone():
    seed()
    before = counts()
    rows = order_rows()

    output = seed("--if-empty", seed=99, customers=10)

    assert counts() == before
    assert order_rows() == rows
    assert "--if-empty" in output


def test_if_empty_seeds_an_empty_database():
    seed("--if-empty")
    assert Customer.objects.count() == SMALL


def test_a_visible_minority_costs_more_than_it_brings():
    seed(customers=300)

    money = DecimalField(max_digits=16, decimal_places=2)
    margin = dict(
        Order.objects.values("customer")
        .annotate(m=Sum(F("revenue") - F("cost"), output_field=money))
        .values_list("customer", "m")
    )
    concessions = dict(
        ServiceActivity.objects.values("customer")
        .annotate(a=Sum("amount"))
        .values_list("customer", "a")
    )
    losing = [
        c
        for c in Customer.objects.all()
        if c.acquisition_cost + c.sales_bonus + concessions.get(c.pk, Decimal(0))
        > margin.get(c.pk, Decimal(0))
    ]
    assert len(losing) >= 0.03 * 300
    assert len(losing) < 0.5 * 300

    # the bad channel does markedly worse than the rest
    channel_share = Counter(c.acquisition_channel for c in losing)
    channel_size = Counter(Customer.objects.values_list("acquisition_channel", flat=True))
    paid_ads = channel_share["Paid ads"] / channel_size["Paid ads"]
    others = (len(losing) - channel_share["Paid ads"]) / (300 - channel_size["Paid ads"])
    assert paid_ads > 1.5 * others


def test_referrals_never_refer_the_referrer_and_follow_the_referral():
    seed(customers=300)

    referrals = Referral.objects.select_related("referred")
    assert referrals.exists()
    assert referrals.filter(referred__isnull=False).exists()
    assert referrals.filter(referred__isnull=True).exclude(referred_name="").exists()
    for r in referrals:
        assert r.referred_id != r.referrer_id
        assert r.referred_id or r.referred_name
        if r.referred:
            assert r.referred.acquired_on > r.date


def test_charters_respect_one_agreed_and_one_open_version():
    seed(customers=300)

    agreed = Counter(
        Charter.objects.filter(status=Charter.Status.AGREED).values_list("customer", flat=True)
    )
    assert agreed
    assert max(agreed.values()) == 1
    open_ = Counter(
        Charter.objects.filter(status__in=["draft", "proposed"]).values_list("customer", flat=True)
    )
    assert max(open_.values()) == 1
    assert Charter.objects.filter(status=Charter.Status.SUPERSEDED).exists()
    for charter in Charter.objects.filter(status__in=["agreed", "superseded"]):
        assert charter.agreed_on and charter.agreed_by
        assert charter.agreed_on >= charter.customer.acquired_on
    for charter in Charter.objects.prefetch_related("events"):
        events = sorted(charter.events.all(), key=lambda e: (e.at, e.pk))
        assert events[0].action == "created"
        assert events[-1].to_status == charter.status
        assert all(e.at.date() <= date.fromisoformat(END) for e in events)


def test_tickets_and_invoices_are_consistent():
    seed()

    for t in SupportTicket.objects.all():
        assert t.opened_at.tzinfo is not None
        if t.first_response_at:
            assert t.first_response_at >= t.opened_at
        if t.resolved_at:
            assert t.first_response_at and t.resolved_at >= t.first_response_at
        assert t.csat is None or 1 <= t.csat <= 5
    assert SupportTicket.objects.filter(is_complaint=True).exists()
    for inv in Invoice.objects.select_related("order"):
        assert inv.due_on == inv.issued_on + timedelta(days=30)
        assert inv.issued_on == inv.order.date
        assert inv.amount == inv.order.revenue
        assert inv.paid_on is None or inv.issued_on <= inv.paid_on <= date.fromisoformat(END)
    assert Order.objects.latest("date").date <= date.fromisoformat(END)
    assert Order.objects.earliest("date").date >= date(2022, 6, 30)


def test_blueprints_measure_with_catalogue_keys():
    seed(customers=10)

    for bp in RoleBlueprint.objects.all():
        stages = {e.stage for e in bp.expectations.all()}
        assert stages == set(LifecycleStage.values)
        assert {c.kind for c in bp.commitments.all()} == set(CommitmentKind.values)
    for e in LifecycleExpectation.objects.all():
        assert e.exclusion_reason if e.excluded else e.metric in METRIC_KEYS
    for c in Commitment.objects.exclude(metric=""):
        assert c.metric in METRIC_KEYS
    manager = Commitment.objects.get(blueprint__name="Strategic partner", kind="preferred")
    assert manager.yearly_cost == Decimal("12000.00")
    kinds = dict(ActivityType.objects.values_list("code", "kind"))
    assert kinds["account-review"] == kinds["business-review"] == "listening"
    assert kinds["surprise-gift"] == "surprise"
    assert kinds["credit-note"] == "concession"


def test_a_bad_end_date_is_refused():
    with pytest.raises(CommandError):
        seed(end="30/06/2025")
