"""Found by the fuzz test (tests/security/test_import_fuzz.py), kept as plain examples.

A file that carries one column of a rule but not the other keeps the record's value of
the other: the rule is checked against it and broken rows are reported, where the
database's check constraint used to fail the whole write with an exception. And text
holding a bare carriage return or a COPY end marker goes through PostgreSQL's COPY as
it is, as a value and as an error's value."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.models import Customer, Invoice, Referral, SupportTicket
from tests.factories import (
    CustomerFactory,
    InvoiceFactory,
    ReferralFactory,
    SupportTicketFactory,
    aware,
)

from .helpers import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def c1():
    return CustomerFactory(external_id="C1")


def errors(result) -> list[tuple]:
    return [(e["row"], e["column"], e["code"]) for e in result.errors]


def test_a_new_issue_date_after_the_invoices_payment_is_a_row_error(c1):
    InvoiceFactory(external_id="I1", customer=c1, issued_on=dt.date(2024, 1, 1),
                   due_on=dt.date(2024, 3, 1), paid_on=dt.date(2024, 1, 20))  # fmt: skip
    result = run(
        "invoices",
        "external_id,customer,issued_on,due_on,amount\n"
        "I1,C1,2024-02-01,2024-03-01,5\n"
        "I2,C1,2024-02-01,2024-03-01,5\n",
    )
    assert errors(result) == [(2, "issued_on", "date_order")]
    assert "is after paid_on of the record as it is (2024-01-20)" in result.errors[0]["reason"]
    assert Invoice.objects.get(external_id="I1").issued_on == dt.date(2024, 1, 1)
    assert not Invoice.objects.filter(external_id="I2").exists()


def test_an_issue_date_before_the_payment_still_updates(c1):
    InvoiceFactory(external_id="I1", customer=c1, issued_on=dt.date(2024, 1, 1),
                   due_on=dt.date(2024, 3, 1), paid_on=dt.date(2024, 1, 20))  # fmt: skip
    result = run(
        "invoices", "external_id,customer,issued_on,due_on,amount\nI1,C1,2024-01-10,2024-03-01,5\n"
    )
    assert result.updated == 1, result.errors
    assert Invoice.objects.get().issued_on == dt.date(2024, 1, 10)


def test_a_ticket_opened_after_its_recorded_resolution_is_a_row_error(c1):
    SupportTicketFactory(external_id="T1", customer=c1, opened_at=aware(2024, 3, 4, 9),
                         first_response_at=None, resolved_at=aware(2024, 3, 4, 12))  # fmt: skip
    result = run("tickets", "external_id,customer,opened_at\nT1,C1,2024-03-05 09:00\n")
    assert errors(result) == [(2, "opened_at", "date_order")]
    assert "is after resolved_at of the record as it is" in result.errors[0]["reason"]
    assert SupportTicket.objects.get().opened_at == aware(2024, 3, 4, 9)


def test_a_referrer_that_is_the_referrals_referred_customer_is_a_row_error(c1):
    c2 = CustomerFactory(external_id="C2")
    ReferralFactory(external_id="R1", referrer=c1, referred=c2, referred_name="")
    result = run("referrals", "external_id,referrer,referred_name,date\nR1,C2,x,2024-05-01\n")
    assert errors(result) == [(2, "referrer", "self_reference")]
    assert Referral.objects.get().referrer == c1


LINE_BREAKS = ["a\rb", "a\nb", "a\r\nb", "\\.", "x\n\\.\ny", 'say "hi", ok; fine']


@pytest.mark.parametrize("text", LINE_BREAKS, ids=range(len(LINE_BREAKS)))
def test_text_with_line_breaks_and_copy_markers_is_stored_as_it_is(text):
    quoted = '"' + text.replace('"', '""') + '"'
    result = run("customers", f"external_id,name,segment\nC9,{quoted},Retail\n".encode())
    assert result.created == 1, result.errors
    assert Customer.objects.get(external_id="C9").name == text


@pytest.mark.parametrize("text", LINE_BREAKS, ids=range(len(LINE_BREAKS)))
def test_an_error_value_with_line_breaks_is_reported_as_it_is(text):
    quoted = '"' + ("z" + text).replace('"', '""') + '"'
    result = run("customers", f"external_id,name,status\nC9,Acme,{quoted}\n".encode())
    assert errors(result) == [(2, "status", "invalid_choice")]
    assert result.errors[0]["value"] == "z" + text.strip()
