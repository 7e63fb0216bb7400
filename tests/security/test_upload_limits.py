"""Uploads that are too big, too long or hostile are refused before they cost anything:
the size before the file is parsed (upload page and API: from the Content-Length,
before the body is read), the row cap as soon as the reader passes it, a zip bomb or a
non-zip ``.xlsx`` before openpyxl opens it, and XML entities by defusedxml."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import Workbook

from customers.models import Customer, Order
from imports import reading, services
from imports.models import ImportJob
from tests.factories import CustomerFactory
from tests.imports.helpers import run

pytestmark = pytest.mark.django_db

ORDERS = b"external_id,customer,date,revenue\n" + b"".join(
    f"O{i},C1,2024-01-01,1.00\n".encode() for i in range(1, 6)
)


@pytest.fixture(autouse=True)
def customer():
    return CustomerFactory(external_id="C1")


def codes(result) -> list[str]:
    return [e["code"] for e in result.errors]


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def openpyxl_must_not_open(monkeypatch):
    """Fails the test if the import hands the file to openpyxl."""

    def refuse(*args, **kwargs):
        raise AssertionError("openpyxl opened a file that should have been refused")

    monkeypatch.setattr("openpyxl.load_workbook", refuse)


class Exploding(io.RawIOBase):
    """A request body that fails the test if anything reads it."""

    def read(self, *args):
        raise AssertionError("the request body was read")

    readline = read


# --- size ------------------------------------------------------------------------------


def test_the_limits_come_from_the_settings(settings):
    assert settings.IMPORT_MAX_BYTES == 200 * 1024 * 1024  # the default, unless set
    assert settings.IMPORT_MAX_ROWS == 5_000_000
    settings.IMPORT_MAX_BYTES, settings.IMPORT_MAX_ROWS = 123, 45
    assert (services.import_limits().max_bytes, services.import_limits().max_rows) == (123, 45)


def test_the_limits_are_read_from_the_environment():
    import subprocess
    import sys

    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='config.settings.test'; "
        "django.setup(); from django.conf import settings as s; "
        "print(s.IMPORT_MAX_BYTES, s.IMPORT_MAX_ROWS)"
    )
    env = {"IMPORT_MAX_BYTES": "1048576", "IMPORT_MAX_ROWS": "1000", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(  # noqa: S603 — our own interpreter and code
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1048576", "1000"]


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(settings):
    settings.IMPORT_MAX_BYTES = 100
    # Not CSV at all: had it been parsed, the error would say so.
    result = run("orders", b"\xff\xfe" + b"x" * 200)
    assert codes(result) == ["too_large"]
    assert "larger than 100 bytes" in result.errors[0]["reason"]
    assert "IMPORT_MAX_BYTES" in result.errors[0]["reason"]
    assert Order.objects.count() == 0


def test_a_file_at_the_limit_is_imported(settings):
    settings.IMPORT_MAX_BYTES = len(ORDERS)
    assert run("orders", ORDERS).created == 5


def test_the_command_line_checks_the_files_size(settings, tmp_path, capsys):
    settings.IMPORT_MAX_BYTES = 100
    path = tmp_path / "orders.csv"
    path.write_bytes(ORDERS * 3)
    with pytest.raises(SystemExit) as exit_:
        call_command("import_data", "orders", str(path))
    assert exit_.value.code == 1
    assert "is larger than 100 bytes" in capsys.readouterr().err
    assert Order.objects.count() == 0


def test_the_upload_page_refuses_a_large_request_without_reading_it(client, admin_user, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    client.force_login(admin_user)
    response = client.post(
        reverse("imports:upload"),
        {"kind": "orders"},
        CONTENT_LENGTH=str(300 * 1024 * 1024),
        **{"wsgi.input": Exploding()},
    )
    assert response.status_code == 413
    page = response.content.decode()
    assert "larger than 1 MB, the most one import takes" in page
    assert 'id="import-upload"' in page  # the form, to try again
    assert ImportJob.objects.count() == 0


def test_the_upload_form_refuses_a_file_over_the_limit(client, admin_user, settings):
    settings.IMPORT_MAX_BYTES = 1000
    client.force_login(admin_user)
    upload = io.BytesIO(ORDERS * 100)
    upload.name = "orders.csv"
    response = client.post(reverse("imports:upload"), {"kind": "orders", "file": upload})
    assert response.status_code == 200
    assert "is larger than 1,000 bytes" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_upload_page_still_checks_csrf(admin_user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    upload = io.BytesIO(ORDERS)
    upload.name = "orders.csv"
    response = client.post(reverse("imports:upload"), {"kind": "orders", "file": upload})
    assert response.status_code == 403
    assert ImportJob.objects.count() == 0


def test_the_api_refuses_a_large_request_without_reading_it(client, integrator, settings):
    settings.IMPORT_MAX_BYTES = 1024 * 1024
    client.force_login(integrator)
    response = client.post(
        "/api/v1/orders/bulk/",
        content_type="application/json",
        CONTENT_LENGTH=str(2 * 1024 * 1024),
        **{"wsgi.input": Exploding()},
    )
    assert response.status_code == 413
    assert "The request (2 MB) is larger than 1 MB" in response.json()["detail"]
    assert ImportJob.objects.count() == 0


# --- rows ------------------------------------------------------------------------------


def test_a_file_over_the_row_cap_is_refused_and_nothing_is_written(settings):
    settings.IMPORT_MAX_ROWS = 3
    result = run("orders", ORDERS)
    assert result.status == "rejected"
    assert [(e["row"], e["code"]) for e in result.errors] == [(5, "too_many_rows")]
    assert "more than 3 rows" in result.errors[0]["reason"]
    assert Order.objects.count() == 0


def test_the_row_cap_stops_the_reading(settings):
    """Row 150,000 is not UTF-8: the reader never gets there."""
    settings.IMPORT_MAX_ROWS = 10
    lines = [f"O{i},C1,2024-01-01,1.00\n".encode() for i in range(200_000)]
    lines[150_000] = b"O\xe9,C1,2024-01-01,1.00\n"
    result = run("orders", b"external_id,customer,date,revenue\n" + b"".join(lines))
    assert codes(result) == ["too_many_rows"]


def test_the_row_cap_applies_to_workbooks_and_the_api(settings):
    settings.IMPORT_MAX_ROWS = 2
    rows = [["external_id", "customer", "date", "revenue"]] + [
        [f"O{i}", "C1", "2024-01-01", "1"] for i in range(3)
    ]
    assert codes(run("orders", xlsx(rows), name="orders.xlsx")) == ["too_many_rows"]
    records = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    result = services.import_run(kind="orders", source=records)
    result.close()
    assert codes(result) == ["too_many_rows"]
    assert Order.objects.count() == 0


# --- XLSX -------------------------------------------------------------------------------


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


WORKBOOK_PARTS = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}


def test_a_zip_bomb_is_refused_before_openpyxl_opens_it(openpyxl_must_not_open):
    bomb = _zip({**WORKBOOK_PARTS, "xl/worksheets/sheet1.xml": b" " * (20 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024  # 20 MB in a few KB: compressed ~1000 to 1
    result = run("orders", bomb, name="orders.xlsx")
    assert codes(result) == ["xlsx_too_large"]
    assert "zip bomb" in result.errors[0]["reason"]


def test_a_workbook_unpacking_to_more_than_the_limit_is_refused(openpyxl_must_not_open):
    parts = {**WORKBOOK_PARTS, "xl/worksheets/sheet1.xml": b"<row/>" * 200_000}
    source = io.BytesIO(_zip(parts))
    limits = reading.Limits(xlsx_max_uncompressed=1_000_000, xlsx_max_ratio=10**6)
    with pytest.raises(reading.SourceError) as refused:
        reading.open_source(source, name="orders.xlsx", limits=limits)
    assert refused.value.code == "xlsx_too_large"
    assert "unpacks to 1 MB, more than" in refused.value.message


def test_a_workbook_with_too_many_entries_is_refused(openpyxl_must_not_open):
    parts = {**WORKBOOK_PARTS, **{f"xl/media/{i}.bin": b"x" for i in range(50)}}
    limits = reading.Limits(xlsx_max_entries=40)
    with pytest.raises(reading.SourceError) as refused:
        reading.open_source(io.BytesIO(_zip(parts)), name="orders.xlsx", limits=limits)
    assert refused.value.code == "xlsx_too_large"
    assert "holds more than 40 files" in refused.value.message


def test_the_entry_count_is_read_from_the_end_of_the_archive():
    assert reading._zip_entry_count(io.BytesIO(_zip(WORKBOOK_PARTS))) == 2
    assert reading._zip_entry_count(io.BytesIO(b"PK\x03\x04 and no directory")) is None


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (ORDERS, "named .xlsx but is not an XLSX workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "old Excel workbook (.xls)"),
        (_zip({"notes.txt": b"hello"}), "zip archive but not an XLSX workbook"),
    ],
    ids=["csv-named-xlsx", "old-xls", "zip-not-workbook"],
)
def test_a_file_that_is_no_workbook_is_refused_before_openpyxl(
    openpyxl_must_not_open, content, words
):
    result = run("orders", content, name="orders.xlsx")
    assert codes(result) == ["not_xlsx"]
    assert words in result.errors[0]["reason"]
    assert Order.objects.count() == 0


def test_a_real_workbook_still_imports():
    rows = [["external_id", "customer", "date", "revenue"], ["O1", "C1", "2024-01-01", "1.50"]]
    assert run("orders", xlsx(rows), name="orders.xlsx").created == 1


def test_openpyxl_parses_through_defusedxml():
    import defusedxml
    from openpyxl.xml import DEFUSEDXML

    assert DEFUSEDXML is True
    assert defusedxml.__version__


def test_a_workbook_with_xml_entities_is_refused_not_expanded():
    """A "billion laughs" in the worksheet: defusedxml refuses the entity declarations,
    and the import reports the file as unreadable instead of raising."""
    good = xlsx([["external_id", "name"], ["C9", "x"]])
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'.encode()
            for i in range(1, 10)
        )
        + b"]>"
    )
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(good)) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = data.split(b"?>", 1)[-1]  # without its XML declaration, if any
                data = laughs + body.replace(b">x<", b">&lol9;<", 1)
            target.writestr(info, data)
    result = run("customers", buffer.getvalue(), name="customers.xlsx")
    assert result.status == "rejected"
    assert codes(result) == ["unreadable"]
    assert not Customer.objects.filter(external_id="C9").exists()
    # …and it is defusedxml that refused it.
    from defusedxml.common import EntitiesForbidden

    with pytest.raises(reading.SourceError) as refused:
        reading.open_source(io.BytesIO(buffer.getvalue()), name="customers.xlsx")
    causes, error = [], refused.value
    while error is not None:
        causes.append(type(error))
        error = error.__cause__ or error.__context__
    assert EntitiesForbidden in causes
