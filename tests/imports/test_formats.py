"""CSV with or without a BOM, comma or semicolon; XLSX; header spelling; row numbers."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from customers.models import Customer, Order
from tests.factories import CustomerFactory

from .helpers import codes, csv_bytes, run

pytestmark = pytest.mark.django_db

ORDERS = """
external_id,customer,date,revenue,cost
O1,C1,2024-02-01,1000.00,600.00
O2,C1,2024-03-01,250.50,
"""


@pytest.fixture(autouse=True)
def customer():
    return CustomerFactory(external_id="C1")


@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
@pytest.mark.parametrize("delimiter", [",", ";"], ids=["comma", "semicolon"])
def test_csv_with_or_without_bom_comma_or_semicolon(bom, delimiter):
    result = run("orders", csv_bytes(ORDERS, bom=bom, delimiter=delimiter))
    assert result.created == 2, result.errors
    assert Order.objects.get(external_id="O2").revenue == Decimal("250.50")


def test_semicolon_file_keeps_commas_inside_quoted_text():
    content = csv_bytes('external_id;name;segment\nC9;"Smith, Jones & Co";"Retail; online"\n')
    assert run("customers", content).created == 1
    customer = Customer.objects.get(external_id="C9")
    assert (customer.name, customer.segment) == ("Smith, Jones & Co", "Retail; online")


def test_windows_line_endings_and_spaces_around_values():
    content = b"external_id , Customer ,DATE,revenue\r\n O1 , C1 , 2024-02-01 , 12.50 \r\n"
    result = run("orders", content)
    assert result.created == 1, result.errors
    assert Order.objects.get(external_id="O1").revenue == Decimal("12.50")


def test_header_names_are_matched_loosely():
    content = b"External ID,Customer,Date,Revenue,Cost\nO1,C1,2024-02-01,1,0\n"
    assert run("orders", content).created == 1


def test_blank_lines_are_skipped_and_row_numbers_stay_those_of_the_file():
    content = b"external_id,customer,date,revenue\nO1,C1,2024-02-01,1\n\n\nO2,C1,2024-02-31,1\n"
    result = run("orders", content)
    assert codes(result) == [(5, "date", "invalid_date")]
    assert result.rows == 2


def test_a_quoted_value_over_two_lines_is_one_value():
    content = b'external_id,name\nC9,"Two\nlines"\nC10,Next\n'
    assert run("customers", content).created == 2
    assert Customer.objects.get(external_id="C9").name == "Two\nlines"


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_typed_cells():
    content = xlsx(
        [
            ["external_id", "customer", "date", "revenue", "cost", "kind"],
            ["O1", "C1", dt.datetime(2024, 2, 1), 1000, 600.25, "repeat"],  # noqa: DTZ001 — Excel is naive
            ["O2", "C1", "2024-03-01", "250.50", None, "Upgrade"],
            [None, None, None, None, None, None],
            [7, "C1", dt.date(2024, 3, 5), 0.1, 0, "first"],
        ]
    )
    result = run("orders", content, name="orders.xlsx")
    assert result.created == 3, result.errors
    first = Order.objects.get(external_id="O1")
    assert (first.date, first.revenue, first.cost) == (
        dt.date(2024, 2, 1),
        Decimal("1000.00"),
        Decimal("600.25"),
    )
    assert Order.objects.get(external_id="O2").kind == Order.Kind.UPGRADE
    assert Order.objects.get(external_id="7").revenue == Decimal("0.10")


def test_xlsx_errors_name_the_rows_of_the_sheet():
    content = xlsx(
        [
            ["external_id", "customer", "date", "revenue"],
            ["O1", "C1", "2024-02-01", 5],
            ["O2", "C1", "yesterday", 5],
        ]
    )
    result = run("orders", content, name="orders.xlsx")
    assert codes(result) == [(3, "date", "invalid_date")]


def test_xlsx_value_beyond_the_header_is_rejected():
    content = xlsx([["external_id", "name"], ["C9", "Ok", "stray"]])
    result = run("customers", content, name="c.xlsx")
    assert codes(result) == [(2, "", "too_many_fields")]


def test_a_broken_workbook_is_rejected():
    result = run("orders", b"PK\x03\x04 not really a zip", name="orders.xlsx")
    assert [e["code"] for e in result.errors] == ["unreadable"]
