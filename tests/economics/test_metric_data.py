"""The loader reads only what was known on the as-of date, in the company's local time."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from commitments.models import Holiday, ServiceCalendar
from economics.metrics import get_metric
from economics.metrics.data import load_metric_data
from tests.factories import (
    CustomerFactory,
    InvoiceFactory,
    OrderFactory,
    SupportTicketFactory,
    aware,
)

pytestmark = pytest.mark.django_db


def test_it_leaves_out_what_happened_after_the_as_of_date():
    customer = CustomerFactory(acquired_on=dt.date(2023, 1, 1))
    OrderFactory(customer=customer, date=dt.date(2024, 6, 1), revenue=Decimal("100"))
    OrderFactory(customer=customer, date=dt.date(2025, 1, 2), revenue=Decimal("999"))
    InvoiceFactory(
        customer=customer,
        issued_on=dt.date(2024, 11, 1),
        due_on=dt.date(2024, 12, 1),
        paid_on=dt.date(2025, 1, 10),  # paid, but not yet on 31 Dec
    )
    data = load_metric_data(as_of=dt.date(2024, 12, 31), customer_ids=[customer.pk])
    assert data.orders["revenue"].tolist() == [100.0]
    assert data.invoices["paid_on"].isna().all()
    late = get_metric("average_days_late")(data)[customer.pk]
    assert late == pytest.approx(30.0)


def test_ticket_times_are_counted_in_the_company_calendar(settings):
    settings.TIME_ZONE = "Europe/Paris"
    cal = ServiceCalendar.objects.create(opens="09:00", closes="17:00", working_days="01234")
    Holiday.objects.create(calendar=cal, date=dt.date(2024, 12, 25), name="Christmas")
    customer = CustomerFactory()
    # 15:30 UTC on Tue 24 Dec is 16:30 in Paris; answered Thu 26 Dec 08:30 UTC (09:30
    # in Paris): half an hour on Tuesday, none on Christmas Day, half an hour on Thursday.
    SupportTicketFactory(
        customer=customer,
        opened_at=aware(2024, 12, 24, 15, 30),
        first_response_at=aware(2024, 12, 26, 8, 30),
        resolved_at=aware(2024, 12, 26, 8, 30),
    )
    data = load_metric_data(as_of=dt.date(2024, 12, 31), customer_ids=[customer.pk])
    within_1h = get_metric("first_response_within_target_share")(data, {"hours": 1})
    within_half = get_metric("first_response_within_target_share")(data, {"hours": 0.9})
    assert within_1h[customer.pk] == 1.0
    assert within_half[customer.pk] == 0.0


def test_it_reads_every_table_in_one_query_each(django_assert_num_queries):
    customers = CustomerFactory.create_batch(5)
    for c in customers:
        OrderFactory(customer=c)
    # The calendar, then the customers and six tables of history; bulk reads (PostgreSQL)
    # first ask for the range of customer ids, then read a block of customers at a time.
    with django_assert_num_queries(9 if connection.vendor == "postgresql" else 8):
        data = load_metric_data(as_of=dt.date(2024, 12, 31))
    assert len(data.customers) == 5
    assert len(data.orders) == 5
