"""Customer list exports (CSV, XLSX) and the neutralisation of formula-like cells."""

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from customers.exports import neutralise
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+49 30 1234", "'+49 30 1234"),
        ("-2", "'-2"),
        ("@SUM(A1:A3)", "'@SUM(A1:A3)"),
        ("\tindented", "'\tindented"),
        ("\rreturn", "'\rreturn"),
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("Northwind", "Northwind"),
        ("a=b", "a=b"),
        (" =1", " =1"),
        ("", ""),
        ("'=already", "'=already"),
        (Decimal("-5.00"), Decimal("-5.00")),
        (-3, -3),
        (None, None),
        (dt.date(2024, 1, 2), dt.date(2024, 1, 2)),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected


C1_ACQUISITION = Decimal("812.40")


@pytest.fixture
def customers(account_manager, other_account_manager):
    northwind = CustomerFactory(
        external_id="C1",
        name="Northwind",
        segment="Enterprise",
        account_manager=account_manager,
        acquisition_cost=C1_ACQUISITION,
    )
    OrderFactory(customer=northwind, revenue=Decimal("1000.00"), cost=Decimal("600.00"))
    OrderFactory(customer=northwind, revenue=Decimal("250.50"), cost=Decimal("100.25"),
                 date=dt.date(2024, 5, 6))  # fmt: skip
    CustomerFactory(
        external_id="C2", name="=cmd|' /C calc'!A0", segment="SMB", account_manager=account_manager
    )
    CustomerFactory(external_id="C3", name="Other's", account_manager=other_account_manager)


def rows_of_csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_export_of_the_filtered_list_with_figures(client, executive, customers):
    client.force_login(executive)
    response = client.get(reverse("customers:export", args=["csv"]), {"segment": "Enterprise"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="customers-' in response["Content-Disposition"]
    rows = rows_of_csv(response)
    header = rows[0]
    assert header[:6] == ["external_id", "name", "segment", "industry", "acquisition_channel",
                          "sales_rep"]  # fmt: skip
    assert len(rows) == 2
    record = dict(zip(header, rows[1], strict=True))
    assert record["external_id"] == "C1"
    assert record["account_manager"] == "am"
    # Before any economics run there are no figures to export.
    assert (record["revenue"], record["clv"], record["klass"]) == ("", "", "")


def test_csv_export_carries_the_current_runs_figures(client, executive, customers):
    import datetime as dt
    from decimal import Decimal

    from customers.models import Customer
    from economics.models import CustomerScore, EconomicsRun

    run = EconomicsRun.objects.create(
        as_of=dt.date(2024, 12, 31), status="succeeded", active=None, is_current=True
    )
    CustomerScore.objects.create(
        run=run, customer=Customer.objects.get(external_id="C1"), revenue=Decimal("1250.50"),
        gross_margin=Decimal("550.25"), clv=Decimal("-12.30"), role_fit=71.25, klass="reprice",
    )  # fmt: skip
    client.force_login(executive)
    rows = rows_of_csv(client.get(reverse("customers:export", args=["csv"]), {"q": "C1"}))
    record = dict(zip(rows[0], rows[1], strict=True))
    assert (record["revenue"], record["gross_margin"]) == ("1250.50", "550.25")
    assert (record["clv"], record["role_fit"], record["klass"]) == ("-12.30", "71.25", "reprice")


def test_csv_export_neutralises_formulas(client, executive, customers):
    client.force_login(executive)
    rows = rows_of_csv(client.get(reverse("customers:export", args=["csv"]), {"q": "cmd"}))
    assert rows[1][1] == "'=cmd|' /C calc'!A0"


def test_xlsx_export_keeps_numbers_and_neutralises_text(client, executive, customers):
    client.force_login(executive)
    response = client.get(reverse("customers:export", args=["xlsx"]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    by_id = {r[0]: dict(zip(header, r, strict=True)) for r in rows[1:]}
    assert set(by_id) == {"C1", "C2", "C3"}
    assert by_id["C1"]["acquisition_cost"] == pytest.approx(float(C1_ACQUISITION))
    assert by_id["C2"]["name"] == "'=cmd|' /C calc'!A0"
    name_cell = next(
        c for row in sheet.iter_rows() for c in row if c.value == "'=cmd|' /C calc'!A0"
    )
    assert name_cell.data_type == "s"


def test_an_account_manager_exports_only_their_customers(client, account_manager, customers):
    client.force_login(account_manager)
    rows = rows_of_csv(client.get(reverse("customers:export", args=["csv"])))
    assert sorted(r[0] for r in rows[1:]) == ["C1", "C2"]


def test_integrators_and_anonymous_may_not_export(client, integrator, customers):
    response = client.get(reverse("customers:export", args=["csv"]))
    assert response.status_code == 302
    client.force_login(integrator)
    assert client.get(reverse("customers:export", args=["csv"])).status_code == 403


def test_an_unknown_format_is_404(client, executive):
    client.force_login(executive)
    assert client.get(reverse("customers:export", args=["pdf"])).status_code == 404


def test_the_list_page_links_to_the_exports_with_its_filter(client, executive, customers):
    client.force_login(executive)
    html = client.get(reverse("customers:list"), {"segment": "SMB"}).content.decode()
    assert reverse("customers:export", args=["csv"]) + "?segment=SMB" in html
