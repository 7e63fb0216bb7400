"""``manage.py generate_dataset``: a large generated data set written in bulk."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection

from accounts.models import User
from commitments.models import CommitmentOverride
from customers import dataset
from customers.dataset import (
    DatasetError,
    _chunk_seed,
    _UniqueNames,
    dataset_generate,
    generated_customers,
)
from customers.demo import BLUEPRINT_NAMES, _plan
from customers.models import (
    ActivityType,
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)
from roles.models import Charter, CharterEvent, RoleBlueprint
from tests.factories import (
    CommitmentOverrideFactory,
    CustomerFactory,
    OrderFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

END = date(2025, 6, 30)
START = date(2022, 6, 30)

# label in the result -> (model, how to find the generated rows)
TABLES = {
    "customers": (Customer, "external_id__startswith"),
    "orders": (Order, "external_id__startswith"),
    "invoices": (Invoice, "external_id__startswith"),
    "support tickets": (SupportTicket, "external_id__startswith"),
    "service activities": (ServiceActivity, "external_id__startswith"),
    "referrals": (Referral, "external_id__startswith"),
    "feedback": (Feedback, "external_id__startswith"),
    "charters": (Charter, "customer__external_id__startswith"),
    "charter events": (CharterEvent, "charter__customer__external_id__startswith"),
}


def generate(customers: int = 300, *, chunk_size: int = 120, seed: int = 7, **kwargs):
    return dataset_generate(
        customers=customers, seed=seed, end=END, chunk_size=chunk_size, **kwargs
    )


def generated_counts() -> dict[str, int]:
    return {
        label: model.objects.filter(**{lookup: "GEN-"}).count()
        for label, (model, lookup) in TABLES.items()
    }


def order_rows() -> list[tuple]:
    return list(
        Order.objects.order_by("external_id").values_list(
            "external_id", "customer__name", "date", "revenue", "cost", "kind"
        )
    )


def test_it_writes_every_table_in_chunks_and_reports_the_counts():
    seen = []

    result = generate(progress=lambda message, done, total: seen.append((message, done, total)))

    assert result.chunks == 3  # 120 + 120 + 60 customers
    assert result.counts == generated_counts()
    assert result.counts["customers"] == 300
    assert result.counts["invoices"] == result.counts["orders"]
    for label in ("support tickets", "service activities", "referrals", "feedback", "charters"):
        assert result.counts[label] > 0, label
    assert result.counts["charter events"] >= result.counts["charters"]
    assert (result.start, result.end) == (START, END)
    chunk_lines = [done for message, done, total in seen if message.startswith("chunk")]
    assert chunk_lines == [120, 240, 300]
    assert seen[-2][0].startswith("chunk 3/3: 300/300 customers")


def test_the_plan_gives_about_ten_orders_per_customer():
    plan = _plan(5000, 7, END)

    per_customer = np.bincount(plan.orders["customer"], minlength=5000)
    assert 9.0 <= per_customer.mean() <= 12.0
    assert per_customer.min() >= 1  # everyone made a first purchase
    assert (per_customer == 1).sum() > 0.05 * 5000  # and some never came back


def test_rows_are_the_plans_rows_to_the_cent():
    generate(150, chunk_size=150, seed=11)
    plan = _plan(150, _chunk_seed(11, 0), END)

    revenue = [
        int(v * 100)
        for v in Order.objects.order_by("external_id").values_list("revenue", flat=True)
    ]
    assert revenue == plan.orders["revenue"].tolist()
    days = [
        (d - START).days
        for d in Order.objects.order_by("external_id").values_list("date", flat=True)
    ]
    assert days == plan.orders["day"].tolist()
    costs = Customer.objects.order_by("external_id").values_list("acquisition_cost", flat=True)
    assert [int(c * 100) for c in costs] == plan.customers["acquisition_cost"].tolist()
    for value in Invoice.objects.values_list("amount", flat=True)[:50]:
        assert isinstance(value, Decimal)
        assert value == value.quantize(Decimal("0.01"))


def test_external_ids_are_unique_and_marked_gen():
    generate(200, chunk_size=70)

    for label, (model, _) in TABLES.items():
        if label.startswith("charter"):
            continue
        ids = list(model.objects.values_list("external_id", flat=True))
        assert len(ids) == len(set(ids)), label
        assert all(i.startswith("GEN-") for i in ids), label
    assert Customer.objects.filter(external_id="GEN-C0000001").exists()
    assert Customer.objects.filter(external_id="GEN-C0000200").exists()
    assert Order.objects.filter(external_id="GEN-O000000001").exists()
    names = list(Customer.objects.values_list("name", flat=True))
    assert len(names) == len(set(names))


def test_a_name_already_taken_gets_the_next_free_number():
    names = _UniqueNames(["Blue Bay Foods"])

    claimed = names.claim(["Blue Bay Foods", "Oak Works", "Blue Bay Foods", "Blue Bay Foods 2"])

    assert claimed == ["Blue Bay Foods 2", "Oak Works", "Blue Bay Foods 3", "Blue Bay Foods 4"]


def test_generated_names_avoid_the_names_of_other_customers():
    generate(40, chunk_size=40)
    first = Customer.objects.get(external_id="GEN-C0000001").name
    CustomerFactory(external_id="REAL-1", name=first)

    generate(40, chunk_size=40, replace=True)

    assert Customer.objects.get(external_id="GEN-C0000001").name != first
    assert Customer.objects.filter(name=first).count() == 1


def test_money_is_written_as_exact_decimals_from_whole_cents():
    calendar = dataset._Calendar(START, 10, now=datetime(2025, 1, 1, tzinfo=UTC))
    cents = dataset._Cents(np.array([0, 5, 99, 100, 123456, 10**13 + 1, -150]))

    assert cents.text(calendar) == [
        "0.00",
        "0.05",
        "0.99",
        "1.00",
        "1234.56",
        "100000000000.01",
        "-1.50",
    ]
    assert cents.values(calendar)[4] == Decimal("1234.56")


def test_days_and_times_are_written_from_offsets_with_nulls():
    calendar = dataset._Calendar(START, 10, now=datetime(2025, 1, 1, tzinfo=UTC))

    assert dataset._Days(np.array([0, 3, -1])).text(calendar) == [
        "2022-06-30",
        "2022-07-03",
        "\\N",
    ]
    assert dataset._Minutes(np.array([0, 1440 + 61, -1])).text(calendar) == [
        "2022-06-30 00:00:00+00",
        "2022-07-01 01:01:00+00",
        "\\N",
    ]
    assert dataset._Strings(["O'Brien", "tab\there"]).text(calendar) == [
        "O'Brien",
        "tab\\there",
    ]


def test_a_key_outside_the_chunk_is_refused_before_anything_is_written():
    counts = dict.fromkeys(dataset.LABELS, 0) | {"customers": 2, "orders": 1}
    out = dataset._Rendered(0, counts, dict.fromkeys(dataset.LABELS, 10))
    order = dataset._Table(
        "orders",
        Order,
        1,
        {"id": dataset._Ints(np.array([11])), "customer_id": dataset._Ints(np.array([13]))},
    )

    with pytest.raises(DatasetError, match="outside this chunk"):
        dataset._check_keys(order, out)

    order.columns["customer_id"] = dataset._Ints(np.array([12]))
    dataset._check_keys(order, out)  # 11 and 12 are the chunk's customers


def test_a_missing_account_manager_stops_the_chunk():
    manager = UserFactory(username="am")
    out = dataset._Rendered(0, {}, {}, references={User: {manager.pk, manager.pk + 1000}})

    with pytest.raises(DatasetError, match=str(manager.pk + 1000)):
        dataset._lock_references(out)

    out.references = {User: {manager.pk}}
    dataset._lock_references(out)


def test_a_run_that_fails_half_way_says_to_replace_and_replace_recovers(monkeypatch):
    calls = []
    write = dataset._write

    def failing_write(rendered, labels, skip):
        calls.append(rendered.number)
        if rendered.number == 1:
            raise DatabaseError("could not extend file: No space left on device")
        write(rendered, labels, skip)

    monkeypatch.setattr(dataset, "_write", failing_write)
    with pytest.raises(DatasetError, match=r"failed after 30 of 90 customers.*--replace"):
        generate(90, chunk_size=30)
    assert generated_customers().count() == 30  # the first chunk stays

    monkeypatch.setattr(dataset, "_write", write)
    result = generate(90, chunk_size=30, replace=True)

    assert result.deleted["customers"] == 30
    assert generated_customers().count() == 90
    assert result.counts == generated_counts()


def test_new_rows_through_the_orm_take_ids_after_the_generated_ones():
    generate(60, chunk_size=25)
    top_customer = Customer.objects.order_by("-pk").values_list("pk", flat=True)[0]
    top_order = Order.objects.order_by("-pk").values_list("pk", flat=True)[0]

    customer = CustomerFactory(external_id="REAL-1")
    order = OrderFactory(external_id="REAL-O1", customer=customer)

    assert customer.pk > top_customer
    assert order.pk > top_order


def test_the_same_seed_gives_the_same_rows_and_another_seed_other_rows():
    generate(80, chunk_size=30, seed=5)
    first = order_rows()

    generate(80, chunk_size=30, seed=5, replace=True)
    assert order_rows() == first

    generate(80, chunk_size=30, seed=6, replace=True)
    assert order_rows() != first


def test_it_refuses_to_add_to_generated_data_without_replace():
    generate(30, chunk_size=30)
    before = generated_counts()

    with pytest.raises(DatasetError, match="--replace"):
        generate(30, chunk_size=30)

    assert generated_counts() == before


def test_replace_deletes_the_old_set_and_everything_hanging_off_it_but_nothing_else():
    mine = CustomerFactory(external_id="REAL-1", name="A real customer")
    OrderFactory(external_id="REAL-O1", customer=mine)
    generate(50, chunk_size=20)
    gen_customer = generated_customers().order_by("pk").first()
    Referral.objects.create(external_id="REAL-R1", referrer=mine, referred=gen_customer, date=END)
    charter = Charter.objects.filter(customer__external_id__startswith="GEN-").first()
    CommitmentOverrideFactory(charter=charter)

    result = generate(20, chunk_size=20, replace=True)

    assert result.deleted["customers"] == 50
    assert result.deleted["commitment overrides"] == 1
    assert generated_counts() == result.counts
    assert generated_counts()["customers"] == 20
    assert not CommitmentOverride.objects.exists()
    assert Order.objects.filter(external_id="REAL-O1", customer=mine).exists()
    referral = Referral.objects.get(external_id="REAL-R1")
    assert referral.referred is None
    assert referral.referred_name == gen_customer.name


def test_it_reuses_the_demo_reference_data_or_creates_it():
    first = generate(20, chunk_size=20)
    assert first.reference["role blueprints"] == 3
    assert first.reference["activity types"] == 8

    second = generate(20, chunk_size=20, replace=True)

    assert second.reference == {}
    assert RoleBlueprint.objects.filter(name__in=BLUEPRINT_NAMES).count() == 3
    assert ActivityType.objects.count() == 8
    used = set(Charter.objects.values_list("blueprint__name", flat=True))
    assert used <= set(BLUEPRINT_NAMES)


def test_a_partial_set_of_demo_blueprints_is_an_error():
    RoleBlueprint.objects.create(name=BLUEPRINT_NAMES[0])

    with pytest.raises(DatasetError, match="Growth account"):
        generate(10, chunk_size=10)

    assert not generated_customers().exists()


def test_charters_carry_the_dates_of_their_history():
    generate(200, chunk_size=200)
    charters = Charter.objects.filter(customer__external_id__startswith="GEN-")
    lo = datetime.combine(START, time.min).astimezone()
    hi = datetime.combine(END + timedelta(days=1), time.min).astimezone()

    assert charters.filter(status=Charter.Status.AGREED).count() > 100
    for charter in charters:
        assert lo <= charter.created_at <= charter.updated_at < hi
        events = list(charter.events.order_by("at", "pk"))
        assert events[0].action == "created"
        assert events[-1].to_status == charter.status
        assert events[0].at == charter.created_at
        assert events[-1].at == charter.updated_at
        if charter.status in (Charter.Status.AGREED, Charter.Status.SUPERSEDED):
            agreed = next(e for e in events if e.to_status == Charter.Status.AGREED)
            assert charter.agreed_on == agreed.at.date()
            assert charter.agreed_by
        else:
            assert charter.agreed_on is None


def test_the_command_prints_progress_and_a_summary():
    out = StringIO()

    call_command(
        "generate_dataset", "--customers", "40", "--seed", "3", "--end", "2025-06-30", stdout=out
    )

    text = out.getvalue()
    assert "chunk 1/1: 40/40 customers" in text
    assert "rows/s" in text
    assert "Generated 40 customers (2022-06-30 to 2025-06-30) in 1 chunk," in text
    orders = Order.objects.filter(external_id__startswith="GEN-").count()
    assert re.search(rf"^ +orders +{orders:,}$", text, re.MULTILINE)
    assert re.search(r"^ +total +[0-9,]+$", text, re.MULTILINE)
    assert "orders per customer" in text


def test_the_command_says_what_is_wrong_with_its_input():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("generate_dataset", "--customers", "0")
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("generate_dataset", "--customers", "5", "--end", "30/06/2025")
    call_command("generate_dataset", "--customers", "5", "--end", "2025-06-30", stdout=StringIO())
    with pytest.raises(CommandError, match="--replace"):
        call_command("generate_dataset", "--customers", "5", "--end", "2025-06-30")

    out = StringIO()
    call_command(
        "generate_dataset", "--customers", "5", "--end", "2025-06-30", "--replace", stdout=out
    )
    assert "Replaced" in out.getvalue()
    assert generated_customers().count() == 5


@pytest.mark.django_db(transaction=True)
def test_it_commits_chunk_by_chunk_outside_a_transaction(monkeypatch):
    # Outside a surrounding transaction PostgreSQL (as a superuser) writes each chunk
    # over two connections; the rows and the sequences must come out the same.
    writers = []

    class Spy(dataset._Writer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            writers.append(kwargs)

    monkeypatch.setattr(dataset, "_Writer", Spy)

    result = generate(90, chunk_size=40)

    two_connections = dataset._may_skip_key_triggers()
    assert writers == [{"skip_key_triggers": two_connections, "parallel": two_connections}]
    assert result.counts == generated_counts()
    assert Invoice.objects.filter(order__isnull=True).count() == 0
    customer = CustomerFactory(external_id="REAL-1")
    assert customer.pk > max(generated_customers().values_list("pk", flat=True))
    assert connection.in_atomic_block is False
