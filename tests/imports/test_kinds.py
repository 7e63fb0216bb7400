"""Each kind of file imports, re-imports as "N unchanged" and updates what changed."""

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import (
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)
from imports.models import ImportJob
from tests.factories import (
    ActivityTypeFactory,
    CustomerFactory,
    OrderFactory,
    UserFactory,
    aware,
)

from .helpers import run

pytestmark = pytest.mark.django_db

CUSTOMERS = """
external_id,name,segment,acquisition_channel,acquired_on,acquisition_cost
C1,Northwind Logistics,Enterprise,Direct sales,2024-01-15,1250.50
C2,Contoso,,,,
"""

TICKETS_HEAD = (
    "external_id,customer,opened_at,first_response_at,resolved_at,"
    "priority,channel,is_complaint,csat,subject"
)

ORDERS = """
external_id,customer,date,revenue,cost
O1,C1,2024-02-01,1000.00,600.00
O2,C1,2024-03-01,250.5,
O3,C2,2024-03-02,99.99,10
"""


@pytest.fixture
def two_customers():
    return CustomerFactory(external_id="C1"), CustomerFactory(external_id="C2")


def test_customers_file_with_the_issues_headers_creates_customers():
    result = run("customers", CUSTOMERS)
    assert (result.status, result.created, result.updated, result.unchanged) == (
        "imported",
        2,
        0,
        0,
    )
    northwind = Customer.objects.get(external_id="C1")
    assert northwind.name == "Northwind Logistics"
    assert northwind.segment == "Enterprise"
    assert northwind.acquisition_channel == "Direct sales"
    assert northwind.acquired_on == dt.date(2024, 1, 15)
    assert northwind.acquisition_cost == Decimal("1250.50")
    assert northwind.status == Customer.Status.ACTIVE
    contoso = Customer.objects.get(external_id="C2")
    assert (contoso.segment, contoso.acquired_on, contoso.acquisition_cost) == ("", None, 0)


def test_customers_file_sets_account_manager_status_and_released_on():
    alice = UserFactory(username="alice")
    run(
        "customers",
        """
        external_id,name,account_manager,status,released_on,sales_bonus
        C1,Northwind,alice,released,2024-06-30,100
        C2,Contoso,,Active,,
        """,
    )
    northwind = Customer.objects.get(external_id="C1")
    assert northwind.account_manager == alice
    assert northwind.status == Customer.Status.RELEASED
    assert northwind.released_on == dt.date(2024, 6, 30)
    assert northwind.sales_bonus == Decimal("100.00")
    assert Customer.objects.get(external_id="C2").status == Customer.Status.ACTIVE


def test_orders_file_creates_orders_with_cost_zero_when_empty(two_customers):
    result = run("orders", ORDERS)
    assert (result.created, result.rows) == (3, 3)
    first = Order.objects.get(external_id="O1")
    assert first.customer.external_id == "C1"
    assert (first.date, first.revenue, first.cost) == (
        dt.date(2024, 2, 1),
        Decimal("1000.00"),
        Decimal("600.00"),
    )
    assert Order.objects.get(external_id="O2").cost == Decimal("0.00")
    assert Order.objects.get(external_id="O2").revenue == Decimal("250.50")
    assert Order.objects.get(external_id="O2").kind == Order.Kind.REPEAT


def test_reimporting_the_same_file_reports_every_row_unchanged(two_customers):
    run("orders", ORDERS)
    again = run("orders", ORDERS)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert again.summary == "3 rows: 0 created, 0 updated, 3 unchanged."
    assert Order.objects.count() == 3


def test_an_edited_file_updates_only_what_changed(two_customers):
    run("orders", ORDERS)
    edited = ORDERS.replace("250.5,", "260.00,").replace("O3,C2", "O3,C1")
    result = run("orders", edited + "O4,C2,2024-04-01,5.00,1.00\n")
    assert (result.created, result.updated, result.unchanged) == (1, 2, 1)
    assert Order.objects.get(external_id="O2").revenue == Decimal("260.00")
    assert Order.objects.get(external_id="O3").customer.external_id == "C1"


def test_columns_left_out_of_a_file_are_left_as_they_are():
    CustomerFactory(external_id="C1", segment="Enterprise", industry="Retail")
    result = run("customers", "external_id,name\nC1,Renamed Ltd\n")
    customer = Customer.objects.get(external_id="C1")
    assert result.updated == 1
    assert (customer.name, customer.segment, customer.industry) == (
        "Renamed Ltd",
        "Enterprise",
        "Retail",
    )


def test_customer_update_moves_updated_at_and_an_unchanged_row_does_not():
    customer = CustomerFactory(external_id="C1", name="Same")
    before = Customer.objects.get(pk=customer.pk).updated_at
    run("customers", "external_id,name\nC1,Same\n")
    assert Customer.objects.get(pk=customer.pk).updated_at == before
    run("customers", "external_id,name\nC1,Other\n")
    assert Customer.objects.get(pk=customer.pk).updated_at > before


def test_invoices_file_links_the_order_of_the_same_customer(two_customers):
    OrderFactory(external_id="O1", customer=two_customers[0])
    result = run(
        "invoices",
        """
        external_id,customer,order,issued_on,due_on,paid_on,amount
        I1,C1,O1,2024-02-01,2024-03-02,2024-02-20,1000.00
        I2,C2,,2024-02-05,2024-02-05,,42
        """,
    )
    assert result.created == 2
    first = Invoice.objects.get(external_id="I1")
    assert first.order.external_id == "O1"
    assert (first.issued_on, first.due_on, first.paid_on, first.amount) == (
        dt.date(2024, 2, 1),
        dt.date(2024, 3, 2),
        dt.date(2024, 2, 20),
        Decimal("1000.00"),
    )
    second = Invoice.objects.get(external_id="I2")
    assert (second.order, second.paid_on, second.amount) == (None, None, Decimal("42.00"))


@pytest.mark.django_db
def test_tickets_file_reads_local_times_offsets_booleans_and_scores(two_customers, settings):
    settings.TIME_ZONE = "Europe/Paris"
    result = run(
        "tickets",
        TICKETS_HEAD
        + """
        T1,C1,2024-03-04 09:00,2024-03-04T11:30:00,2024-03-05T05:00:00+00:00,High,e-mail,yes,4,Late
        T2,C2,2024-07-01,,,,,,,
        """,
    )
    assert result.created == 2, result.errors
    first = SupportTicket.objects.get(external_id="T1")
    assert first.opened_at == aware(2024, 3, 4, 8, 0)  # 09:00 in Paris (UTC+1 in March)
    assert first.first_response_at == aware(2024, 3, 4, 10, 30)
    assert first.resolved_at == aware(2024, 3, 5, 5, 0)
    assert (first.priority, first.channel, first.is_complaint, first.csat) == (
        "high",
        "email",
        True,
        4,
    )
    assert first.subject == "Late"
    second = SupportTicket.objects.get(external_id="T2")
    assert second.opened_at == aware(2024, 6, 30, 22, 0)  # midnight in Paris, summer time
    assert (second.priority, second.channel, second.is_complaint, second.csat, second.subject) == (
        "normal",
        "email",
        False,
        None,
        "",
    )
    again = run(
        "tickets",
        TICKETS_HEAD
        + """
        T1,C1,2024-03-04 08:00:00Z,2024-03-04 11:30,2024-03-05 06:00+01:00,high,email,true,4,Late
        """,
    )
    assert again.unchanged == 1, again.errors


def test_activities_file_finds_the_activity_type_by_code(two_customers):
    visit = ActivityTypeFactory(code="site-visit")
    result = run(
        "activities",
        """
        external_id,customer,activity_type,date,quantity,amount,note
        A1,C1,site-visit,2024-04-01,2.5,,Quarterly review
        A2,C2,site-visit,2024-04-02,,120.00,
        """,
    )
    assert result.created == 2
    first = ServiceActivity.objects.get(external_id="A1")
    assert (first.activity_type, first.quantity, first.amount, first.note) == (
        visit,
        Decimal("2.50"),
        Decimal("0.00"),
        "Quarterly review",
    )
    assert ServiceActivity.objects.get(external_id="A2").quantity == Decimal("1.00")


def test_referrals_file_names_a_customer_or_a_prospect(two_customers):
    result = run(
        "referrals",
        """
        external_id,referrer,referred,referred_name,date
        R1,C1,C2,,2024-05-01
        R2,C2,,Prospect Ltd,2024-05-02
        """,
    )
    assert result.created == 2
    assert Referral.objects.get(external_id="R1").referred.external_id == "C2"
    prospect = Referral.objects.get(external_id="R2")
    assert (prospect.referrer.external_id, prospect.referred, prospect.referred_name) == (
        "C2",
        None,
        "Prospect Ltd",
    )


def test_feedback_file_keeps_scores_and_insights(two_customers):
    result = run(
        "feedback",
        """
        external_id,customer,date,kind,score,insight
        F1,C1,2024-06-01,NPS survey,0,"Ship faster, please"
        F2,C2,2024-06-02,,,
        """,
    )
    assert result.created == 2
    first = Feedback.objects.get(external_id="F1")
    assert (first.kind, first.score, first.insight) == ("nps", 0, "Ship faster, please")
    second = Feedback.objects.get(external_id="F2")
    assert (second.kind, second.score, second.insight) == ("survey", None, "")


def test_missing_customers_are_created_when_asked(two_customers):
    result = run(
        "orders",
        "external_id,customer,date,revenue\nO1,C1,2024-01-01,5\nO2,NEW-1,2024-01-01,5\n"
        "O3,NEW-1,2024-01-02,7\n",
        create_missing_customers=True,
    )
    assert (result.created, result.customers_created) == (3, 1)
    new = Customer.objects.get(external_id="NEW-1")
    assert (new.name, new.status, new.acquisition_cost) == ("NEW-1", "active", 0)
    assert new.orders.count() == 2


def test_a_dry_run_counts_what_would_change_and_writes_nothing(two_customers):
    run("orders", ORDERS)
    edited = ORDERS.replace("250.5,", "260.00,") + "O4,NEW,2024-04-01,5.00,1.00\n"
    result = run("orders", edited, dry_run=True, create_missing_customers=True)
    assert (result.status, result.created, result.updated, result.unchanged) == (
        "validated",
        1,
        1,
        2,
    )
    assert result.customers_created == 1
    assert Order.objects.get(external_id="O2").revenue == Decimal("250.50")
    assert not Customer.objects.filter(external_id="NEW").exists()
    assert not Order.objects.filter(external_id="O4").exists()


def test_every_import_is_recorded_in_the_history(two_customers, integrator):
    result = run("orders", ORDERS, user=integrator, name="march.csv")
    job = ImportJob.objects.get(pk=result.job_id)
    assert (job.kind, job.status, job.origin, job.file_name, job.created_by) == (
        "orders",
        "succeeded",
        "cli",
        "march.csv",
        integrator,
    )
    assert (job.rows, job.created_count, job.updated_count, job.unchanged_count) == (3, 3, 0, 0)
    assert job.duration is not None and job.duration.total_seconds() >= 0
    assert (job.progress_stage, job.progress_percent) == ("done", 100)


def test_a_status_column_alone_reactivates_a_released_customer():
    CustomerFactory(external_id="C1", status="released", released_on=dt.date(2024, 1, 31))
    result = run("customers", "external_id,name,status\nC1,Back Again,active\n")
    assert result.updated == 1, result.errors
    customer = Customer.objects.get(external_id="C1")
    assert (customer.status, customer.released_on) == ("active", None)
    rejected = run("customers", "external_id,name,status\nC1,Back Again,released\n")
    assert [(e["column"], e["code"]) for e in rejected.errors] == [("released_on", "required")]
