"""Text in, text out: UTF-8 with or without a byte-order mark imports as typed; a
Windows-1252 (or UTF-16, or binary) file is refused with a message saying how to save
it, and writes nothing. Identifiers stay text (``00042`` is not ``42``) and amounts
are decimals end to end (never a float)."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.db.models import Sum
from openpyxl import Workbook

from customers.models import Customer, Order
from imports import services
from tests.factories import CustomerFactory

from .helpers import run

pytestmark = pytest.mark.django_db

NAMES = ["Zoë Café — Ünïcode", "שלום עולם", "😀 Emoji Ltd", 'Quote "Co"', "Łódź Sp. z o.o."]


def customers_csv(names: list[str], *, delimiter: str = ",") -> str:
    rows = [f'C{i}{delimiter}"{n.replace(chr(34), chr(34) * 2)}"' for i, n in enumerate(names)]
    return "\n".join([f"external_id{delimiter}name", *rows]) + "\n"


def not_utf8(result) -> bool:
    return [e["code"] for e in result.errors] == ["not_utf8"] and "UTF-8" in result.errors[0][
        "reason"
    ]


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["utf8", "utf8-bom"])
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_utf8_with_or_without_bom_imports_exactly_as_typed(bom, delimiter):
    result = run("customers", bom + customers_csv(NAMES, delimiter=delimiter).encode())
    assert result.created == len(NAMES), result.errors
    stored = dict(Customer.objects.values_list("external_id", "name"))
    assert stored == {f"C{i}": n for i, n in enumerate(NAMES)}


def test_a_windows_1252_file_is_refused_with_how_to_save_it():
    content = customers_csv(["Café “Smart” €uro"]).encode("cp1252")
    result = run("customers", content)
    assert result.status == "rejected"
    assert not_utf8(result), result.errors
    reason = result.errors[0]["reason"]
    assert reason.startswith("The file is not UTF-8 text: save it as “CSV UTF-8”")
    assert Customer.objects.count() == 0


def test_a_windows_1252_header_is_refused_too():
    content = "external_id;name;segment\nC1;x;Café\n".encode("cp1252")
    content = content.replace(b"segment", b"s\xe9gment")
    result = run("customers", content)
    assert not_utf8(result), result.errors


def test_a_windows_1252_byte_after_the_first_chunk_writes_nothing():
    """The first 50,000 rows are fine and staged; the bad byte comes later."""
    CustomerFactory(external_id="C1")
    lines = [f"O{i},C1,2024-01-01,1.00" for i in range(60_000)]
    lines[55_000] = "O55000,C1,2024-01-01,1.00,Café".encode("cp1252").decode("latin-1")
    body = ("external_id,customer,date,revenue\n" + "\n".join(lines)).encode("latin-1")
    result = run("orders", body)
    assert result.status == "rejected"
    assert "not_utf8" in [e["code"] for e in result.errors]
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    "content",
    [
        customers_csv(["Zoë"]).encode("utf-16"),  # Excel's "Unicode text"
        customers_csv(["Zoë"]).encode("utf-16-le"),  # the same without its BOM
        b"external_id,name\n" + b"C1,ok\n" * 20_000 + b"C2,a\x00b\n",  # a NUL far in
    ],
    ids=["utf16", "utf16-no-bom", "nul-byte"],
)
def test_utf16_or_nul_bytes_are_refused_as_not_utf8(content):
    result = run("customers", content)
    assert not_utf8(result), result.errors
    assert "NUL" in result.errors[0]["reason"]
    assert Customer.objects.count() == 0


# --- identifiers are text ----------------------------------------------------------------


def test_leading_zeros_are_kept_and_references_match_them_exactly():
    forty_two = CustomerFactory(external_id="42")
    result = run("customers", "external_id,name\n00042,Zeros Ltd\n1e5,Not a number\n0x1F,Hex\n")
    assert result.created == 3, result.errors
    assert Customer.objects.filter(external_id__in=["00042", "1e5", "0x1F"]).count() == 3
    run("orders", "external_id,customer,date,revenue\n007,00042,2024-01-01,1.00\n")
    order = Order.objects.get(external_id="007")
    assert order.customer.external_id == "00042"
    assert order.customer != forty_two


def test_workbook_and_api_identifiers_stay_text():
    book = Workbook()
    book.active.append(["external_id", "name"])
    book.active.append(["00042", "Text cell"])
    buffer = io.BytesIO()
    book.save(buffer)
    assert run("customers", buffer.getvalue(), name="c.xlsx").created == 1
    result = services.import_run(
        kind="customers", source=[{"external_id": "000123", "name": "From the API"}]
    )
    result.close()
    assert set(Customer.objects.values_list("external_id", flat=True)) == {"00042", "000123"}


# --- amounts are decimals ----------------------------------------------------------------


@pytest.fixture
def c1():
    return CustomerFactory(external_id="C1")


def test_amounts_add_up_exactly(c1):
    """0.1 + 0.2 is 0.30000000000000004 in floating point; here it is 0.30."""
    run(
        "orders", "external_id,customer,date,revenue\nO1,C1,2024-01-01,0.1\nO2,C1,2024-01-01,0.20\n"
    )
    revenues = list(Order.objects.order_by("external_id").values_list("revenue", flat=True))
    assert revenues == [Decimal("0.10"), Decimal("0.20")]
    assert all(isinstance(r, Decimal) for r in revenues)
    assert Order.objects.aggregate(total=Sum("revenue"))["total"] == Decimal("0.30")


@pytest.mark.parametrize(
    "amount",
    ["12345678901.23", "999999999999.99", "100000000000.01", "99999999999.99"],
)
def test_thirteen_and_fourteen_digit_amounts_are_kept_to_the_cent(c1, amount):
    result = run("orders", f"external_id,customer,date,revenue\nO1,C1,2024-01-01,{amount}\n")
    assert result.created == 1, result.errors
    assert Order.objects.get().revenue == Decimal(amount)


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("1234567890123.45", "out_of_range"),  # 13 digits before the point: too large
        ("0.30000000000000004", "too_precise"),  # a float that leaked into a file
        ("1e3", "invalid_amount"),
        ("1,000.00", "invalid_amount"),
        ("NaN", "invalid_amount"),
        ("Infinity", "invalid_amount"),
    ],
)
def test_amounts_a_float_would_accept_are_row_errors(c1, amount, code):
    result = run("orders", f'external_id,customer,date,revenue\nO1,C1,2024-01-01,"{amount}"\n')
    assert [(e["row"], e["column"], e["code"]) for e in result.errors] == [(2, "revenue", code)]
    assert Order.objects.count() == 0


def test_api_amounts_as_text_or_json_numbers_become_exact_decimals(c1):
    records = [
        {"external_id": "O1", "customer": "C1", "date": "2024-01-01", "revenue": "0.10"},
        {"external_id": "O2", "customer": "C1", "date": "2024-01-01", "revenue": 0.2},
        {"external_id": "O3", "customer": "C1", "date": "2024-01-01", "revenue": 12345678901.23},
    ]
    result = services.import_run(kind="orders", source=records)
    result.close()
    assert result.created == 3, result.errors
    assert dict(Order.objects.values_list("external_id", "revenue")) == {
        "O1": Decimal("0.10"),
        "O2": Decimal("0.20"),
        "O3": Decimal("12345678901.23"),
    }
