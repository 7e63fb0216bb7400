"""Every reason a row or a file is rejected: the report names row, column, value and
reason, and a file with any bad row writes nothing."""

import io

import pytest

from customers.models import Customer, Order
from imports import services
from imports.models import ImportJob
from tests.factories import ActivityTypeFactory, CustomerFactory, OrderFactory, UserFactory

from .helpers import codes, csv_bytes, run

pytestmark = pytest.mark.django_db

ORDER_HEAD = "external_id,customer,date,revenue,cost"


@pytest.fixture(autouse=True)
def world():
    c1 = CustomerFactory(external_id="C1")
    c2 = CustomerFactory(external_id="C2")
    OrderFactory(external_id="O-C1", customer=c1)
    OrderFactory(external_id="O-C2", customer=c2)
    ActivityTypeFactory(code="visit")
    UserFactory(username="alice")


# (kind, file, row, column, value, code, words in the reason)
ROW_CASES = [
    ("orders", f"{ORDER_HEAD}\nO1,,2024-01-01,1,0", 2, "customer", "", "required", "is required"),
    ("orders", f"{ORDER_HEAD}\n,C1,2024-01-01,1,0", 2, "external_id", "", "required", "required"),
    ("orders", f"{ORDER_HEAD}\n{'X' * 65},C1,2024-01-01,1,0", 2, "external_id", "X" * 65,
     "too_long", "longer than 64"),
    ("orders", f"{ORDER_HEAD}\nO1,C1,2024-02-30,1,0", 2, "date", "2024-02-30", "invalid_date",
     "YYYY-MM-DD"),
    ("orders", f"{ORDER_HEAD}\nO1,C1,01/02/2024,1,0", 2, "date", "01/02/2024", "invalid_date",
     "not a date"),
    ("orders", f"{ORDER_HEAD}\nO1,C1,2024-01-01,\"1,50\",0", 2, "revenue", "1,50",
     "invalid_amount", "dot"),
    ("orders", f"{ORDER_HEAD}\nO1,C1,2024-01-01,1.505,0", 2, "revenue", "1.505", "too_precise",
     "more than 2 decimals"),
    ("orders", f"{ORDER_HEAD}\nO1,C1,2024-01-01,-5.00,0", 2, "revenue", "-5.00", "out_of_range",
     "must not be negative"),
    ("orders", f"{ORDER_HEAD}\nO1,C1,2024-01-01,1234567890123.00,0", 2, "revenue",
     "1234567890123.00", "out_of_range", "too large"),
    ("orders", f"{ORDER_HEAD},kind\nO1,C1,2024-01-01,1,0,resale", 2, "kind", "resale",
     "invalid_choice", "first, repeat, upgrade, cross_sell"),
    ("orders", f"{ORDER_HEAD}\nO1,C9,2024-01-01,1,0", 2, "customer", "C9", "unknown_reference",
     "no customer"),
    ("orders", f"{ORDER_HEAD}\nO1,C1,2024-01-01,1,0\nO1,C2,2024-01-02,2,0", 3, "external_id", "O1",
     "duplicate_key", "first in row 2"),
    ("invoices", "external_id,customer,issued_on,due_on,amount\nI1,C1,2024-02-01,2024-01-31,5",
     2, "due_on", "2024-01-31", "date_order", "before issued_on"),
    ("invoices", "external_id,customer,issued_on,due_on,paid_on,amount\n"
     "I1,C1,2024-02-01,2024-03-01,2024-01-01,5", 2, "paid_on", "2024-01-01", "date_order",
     "before issued_on"),
    ("invoices", "external_id,customer,order,issued_on,due_on,amount\n"
     "I1,C1,O-C2,2024-02-01,2024-03-01,5", 2, "order", "O-C2", "reference_mismatch",
     "belongs to customer C2"),
    ("invoices", "external_id,customer,order,issued_on,due_on,amount\n"
     "I1,C1,O-NONE,2024-02-01,2024-03-01,5", 2, "order", "O-NONE", "unknown_reference",
     "no order"),
    ("tickets", "external_id,customer,opened_at\nT1,C1,2024-03-04 25:00", 2, "opened_at",
     "2024-03-04 25:00", "invalid_datetime", "date and time"),
    ("tickets", "external_id,customer,opened_at,resolved_at\n"
     "T1,C1,2024-03-04 10:00,2024-03-04 09:00", 2, "resolved_at", "2024-03-04 09:00",
     "date_order", "before opened_at"),
    ("tickets", "external_id,customer,opened_at,first_response_at\n"
     "T1,C1,2024-03-04 10:00,2024-03-03", 2, "first_response_at", "2024-03-03", "date_order",
     "before opened_at"),
    ("tickets", "external_id,customer,opened_at,is_complaint\nT1,C1,2024-03-04,maybe", 2,
     "is_complaint", "maybe", "invalid_boolean", "true or false"),
    ("tickets", "external_id,customer,opened_at,csat\nT1,C1,2024-03-04,6", 2, "csat", "6",
     "out_of_range", "between 1 and 5"),
    ("tickets", "external_id,customer,opened_at,csat\nT1,C1,2024-03-04,4.5", 2, "csat", "4.5",
     "invalid_integer", "whole number"),
    ("tickets", "external_id,customer,opened_at,channel\nT1,C1,2024-03-04,fax", 2, "channel",
     "fax", "invalid_choice", "email"),
    ("activities", "external_id,customer,activity_type,date,quantity\nA1,C1,visit,2024-04-01,0",
     2, "quantity", "0", "out_of_range", "greater than 0"),
    ("activities", "external_id,customer,activity_type,date,quantity\nA1,C1,visit,2024-04-01,two",
     2, "quantity", "two", "invalid_number", "not a number"),
    ("activities", "external_id,customer,activity_type,date\nA1,C1,teleport,2024-04-01", 2,
     "activity_type", "teleport", "unknown_reference", "no activity type has this code"),
    ("referrals", "external_id,referrer,referred,date\nR1,C1,C1,2024-05-01", 2, "referred", "C1",
     "self_reference", "cannot refer itself"),
    ("referrals", "external_id,referrer,referred,referred_name,date\nR1,C1,,,2024-05-01", 2,
     "referred", "", "one_of_required", "referred or referred_name"),
    ("feedback", "external_id,customer,date,score\nF1,C1,2024-06-01,11", 2, "score", "11",
     "out_of_range", "between 0 and 10"),
    ("customers", "external_id,name,status,released_on\nC7,Gone,released,", 2, "released_on", "",
     "required", "when status is released"),
    ("customers", "external_id,name,status,released_on\nC7,Here,active,2024-01-01", 2,
     "released_on", "2024-01-01", "not_allowed", "empty unless status is released"),
    ("customers", "external_id,name,account_manager\nC7,New,bob", 2, "account_manager", "bob",
     "unknown_reference", "no user"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "text", "row", "column", "value", "code", "words"),
    ROW_CASES,
    ids=[f"{c[0]}-{c[3]}-{c[5]}" for c in ROW_CASES],
)
def test_a_bad_row_is_reported_and_nothing_is_written(kind, text, row, column, value, code, words):
    model = {"customers": Customer, "orders": Order}.get(kind)
    before = model.objects.count() if model else None
    result = run(kind, text)
    assert result.status == "rejected"
    assert (row, column, code) in codes(result), result.errors
    error = next(
        e for e in result.errors if (e["row"], e["column"], e["code"]) == (row, column, code)
    )
    assert error["value"] == value
    assert words in error["reason"]
    assert result.created == result.updated == result.unchanged == 0
    assert "nothing was written" in result.summary
    if model:
        assert model.objects.count() == before
    assert ImportJob.objects.get(pk=result.job_id).status == ImportJob.Status.REJECTED


# (kind, file bytes, row, column, code)
FILE_CASES = [
    ("orders", b"external_id,customer,date,revenue,cost,colour\nO1,C1,2024-01-01,1,0,red\n", 1,
     "colour", "unknown_column"),
    ("orders", b"external_id,customer,date\nO1,C1,2024-01-01\n", 1, "revenue", "missing_column"),
    ("orders", b"external_id,customer,date,revenue,revenue\nO1,C1,2024-01-01,1,2\n", 1, "revenue",
     "duplicate_column"),
    ("customers", b"external_id,name,released_on\nC7,Gone,2024-01-01\n", 1, "status",
     "missing_column"),
    ("referrals", b"external_id,referrer,date\nR1,C1,2024-05-01\n", 1, "referred",
     "missing_column"),
    ("orders", b"external_id,customer,date,revenue\nO1,C1,2024-01-01,1,surprise\n", 2, "",
     "too_many_fields"),
    ("orders", b"external_id,customer,date,revenue,\nO1,C1,2024-01-01,1,surprise\n", 2,
     "(column 5)", "unnamed_column"),
    ("orders", "external_id,customer,date,revenue\nO1,Café,2024-01-01,1\n".encode("latin-1"), None,
     "", "not_utf8"),
    ("orders", b"", None, "", "empty_file"),
    ("orders", b"external_id,customer,date,revenue\n", 2, "", "no_rows"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "content", "row", "column", "code"),
    FILE_CASES,
    ids=[f"{c[0]}-{c[4]}" for c in FILE_CASES],
)
def test_a_file_that_cannot_be_read_as_a_whole_is_rejected(kind, content, row, column, code):
    result = run(kind, content)
    assert result.status == "rejected"
    assert [(e["column"], e["code"]) for e in result.errors if e["code"] == code] == [
        (column, code)
    ], result.errors
    if row is not None:
        assert next(e["row"] for e in result.errors if e["code"] == code) == row
    assert not Order.objects.filter(external_id="O1").exists()


def test_every_bad_row_is_reported_not_only_the_first():
    lines = [ORDER_HEAD] + [f"O{i},C1,2024-01-{i:02d},1,0" for i in range(1, 21)]
    lines[5] = "O5,C1,2024-01-05,abc,0"
    lines[12] = "O12,C9,2024-13-01,1,0"
    lines[20] = "O20,C1,2024-01-20,1,-1"
    result = run("orders", "\n".join(lines))
    assert codes(result) == [
        (6, "revenue", "invalid_amount"),
        (13, "customer", "unknown_reference"),
        (13, "date", "invalid_date"),
        (21, "cost", "out_of_range"),
    ]
    assert (result.rejected, result.error_count, result.rows) == (3, 4, 20)
    assert result.summary == "3 of 20 rows have errors (4 in all); nothing was written."
    assert not Order.objects.filter(external_id__in=["O1", "O2"]).exists()


def test_the_error_report_holds_every_error_as_csv():
    lines = [ORDER_HEAD] + [f"O{i},C1,2024-01-01,bad,0" for i in range(300)]
    source = io.BytesIO(csv_bytes("\n".join(lines)))
    result = services.import_run(kind="orders", source=source)
    try:
        assert result.error_count == 300
        assert len(result.errors) == 200  # kept in memory; the report has them all
        report = result.report.read().decode("utf-8-sig").splitlines()
    finally:
        result.close()
    assert report[0] == "row,column,value,code,reason"
    assert len(report) == 301
    assert report[1].startswith("2,revenue,bad,invalid_amount,")
    job = ImportJob.objects.get(pk=result.job_id)
    assert job.error_count == 300 and len(job.errors) == 200 and job.more_errors == 100
    assert job.error_report.read().decode("utf-8-sig").count("\n") == 301
