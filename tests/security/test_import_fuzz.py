"""Random rows thrown at every kind of import through the real service: unicode (RTL,
emoji), quotes, embedded newlines, both delimiters, huge numbers, negative zero, bad
dates, empty cells, very long strings, NUL characters; as CSV (well formed or pasted
together by hand), as XLSX and as API records.

Whatever comes in, the result is "imported" or a report of errors naming rows, never
an exception; and a rejected file writes nothing (every table counts the same after).
Bounded: 40 examples per kind (``FUZZ_EXAMPLES=1000`` for a deep local run), so the file
runs in well under a minute. On CI the examples are derandomised, so a run there is
repeatable; locally each run tries new ones."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

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
from imports import services
from imports.models import ImportJob
from imports.specs import SPECS, Type
from tests.factories import ActivityTypeFactory, CustomerFactory, OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = [
    Customer,
    Order,
    Invoice,
    SupportTicket,
    ServiceActivity,
    Referral,
    Feedback,
    ActivityType,
]
# Values that resolve, so that some files import and the write path is fuzzed too.
KNOWN = {
    "customer": ["C1", "C2", "00042"],
    "order": ["O-C1"],
    "activity type": ["visit"],
    "user": ["alice"],
}
NASTY = [
    "",
    " ",
    "שלום עולם",  # right to left
    "\u202eevil\u202c",  # a right-to-left override
    "😀🏳️‍🌈",
    '"',
    '""quoted""',
    "'",
    "a,b",
    "a;b",
    "a\tb",
    "line\nbreak",
    "line\r\nbreak",
    "\r",
    "a\rb",
    "\\.",
    "x\n\\.\ny",
    "=1+1",
    "NaN",
    "null",
    "None",
    "-0",
    "-0.00",
    "0.00",
    "9" * 40,
    "-" + "9" * 30,
    "1e308",
    "1E-7",
    "0x10",
    "2024-02-30",
    "2024-13-01",
    "0000-00-00",
    "9999-12-31",
    "1900-01-01",
    "2024-03-31 02:30",  # a gap in some time zones
    "2024-01-01T10:00+99:99",
    "x" * 5000,
    "\x00",
    "a\x00b",
]

nasty = st.one_of(st.sampled_from(NASTY), st.text(max_size=40))
# Text a person could type: any letter, mark, number, punctuation, symbol or space
# (RTL scripts and emoji included), quotes, both delimiters and line breaks.
typed = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Co", "Cn"), whitelist_characters="\n\t"),
    max_size=60,
)


def clean(column, day: dt.datetime) -> st.SearchStrategy[str]:
    """A value of the column's type that passes its checks (dates: the row's day, so
    that no date comes before another); references name records that exist."""
    if column.ref is not None:
        return st.sampled_from(KNOWN.get(column.ref.label, ["C1"]))
    if column.type == Type.DATE:
        return st.just(day.date().isoformat())
    if column.type == Type.DATETIME:
        return st.sampled_from(
            [day.isoformat(sep=" ", timespec="minutes"), day.isoformat() + "+00:00"]
        )
    if column.type in (Type.MONEY, Type.DECIMAL):
        low = "0.01" if column.exclusive_minimum else "0"
        amounts = st.decimals(min_value=low, max_value="999999999999.99", places=2)
        zeros = [] if column.exclusive_minimum else ["-0", "-0.00", "0"]
        return st.one_of(amounts.map(str), st.sampled_from([*zeros, "0.1", "12.5"]))
    if column.type == Type.INTEGER:
        return st.integers(int(column.minimum), int(column.maximum)).map(str)
    if column.type == Type.BOOLEAN:
        return st.sampled_from(["true", "False", "yes", "N", "1", "0"])
    if column.type == Type.CHOICE:
        choices = column.choices.choices
        return st.sampled_from([v for v, _ in choices] + [str(label) for _, label in choices])
    text = typed.filter(lambda t: t.strip()) if column.required else typed
    return text.map(lambda t: t[: column.max_length] if column.max_length else t)


@st.composite
def files(draw, kind: str):
    spec = SPECS[kind]
    optional = [c.name for c in spec.columns if not c.required]
    chosen = draw(st.sets(st.sampled_from(optional))) if optional else set()
    columns = [c for c in spec.columns if c.required or c.name in chosen]
    draw(st.randoms()).shuffle(columns)
    n = draw(st.integers(0, 8))
    keys = draw(
        st.lists(
            typed.filter(lambda k: 0 < len(k.strip()) <= 64),
            min_size=n,
            max_size=n,
            unique_by=lambda k: k.strip(),
        )
    )
    rows = []
    for key in keys:
        day = draw(st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2030, 12, 31)))  # noqa: DTZ001
        rows.append([key if c.name == "external_id" else draw(clean(c, day)) for c in columns])
    # Then spoil a few cells (or none): anything at all, in any column.
    for _ in range(draw(st.sampled_from([0, 0, 1, 3])) if rows else 0):
        row = draw(st.sampled_from(rows))
        row[draw(st.integers(0, len(columns) - 1))] = draw(nasty)
    form = draw(st.sampled_from(["csv", "csv;", "pasted", "xlsx", "records"]))
    return [c.name for c in columns], rows, form


def encode(header: list[str], rows: list[tuple], form: str):
    """The rows as the source ``import_run`` takes: a named binary file or records."""
    if form == "records":
        return [dict(zip(header, row, strict=True)) for row in rows]
    if form == "xlsx":
        book = Workbook()
        book.active.append(header)
        for row in rows:
            book.active.append([ILLEGAL_CHARACTERS_RE.sub("", v) for v in row])
        handle = io.BytesIO()
        book.save(handle)
        handle.seek(0)
        handle.name = "fuzz.xlsx"
        return handle
    text = io.StringIO()
    if form == "pasted":  # joined by hand: stray quotes, delimiters and newlines break rows
        text.write(",".join(header) + "\n")
        for row in rows:
            text.write(",".join(row) + "\n")
    else:
        writer = csv.writer(text, delimiter=";" if form == "csv;" else ",")
        writer.writerow(header)
        writer.writerows(rows)
    handle = io.BytesIO(text.getvalue().encode("utf-8", errors="surrogatepass"))
    handle.name = "fuzz.csv"
    return handle


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def known_records(db):
    for key in KNOWN["customer"]:
        CustomerFactory(external_id=key)
    OrderFactory(external_id="O-C1", customer=Customer.objects.get(external_id="C1"))
    ActivityTypeFactory(code="visit")
    UserFactory(username="alice")


@pytest.mark.parametrize("kind", list(SPECS))
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),  # more for a deep local run
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_random_rows_are_imported_or_reported_never_half_written(known_records, kind, data):
    header, rows, form = data.draw(files(kind))
    source = encode(header, rows, form)
    before = counts()
    jobs = ImportJob.objects.count()

    result = services.import_run(kind=kind, source=source)  # must not raise
    result.close()

    after = counts()
    event(f"{form}: {result.status}")  # pytest --hypothesis-show-statistics
    assert ImportJob.objects.count() == jobs + 1
    assert result.status in ("imported", "rejected"), result.status
    if result.status == "rejected":
        assert after == before, "a rejected file wrote something"
        assert result.error_count > 0 and result.errors
        for error in result.errors:
            assert error["code"] and error["reason"], error
            assert error["row"] is None or isinstance(error["row"], int), error
        assert "nothing was written" in result.summary
    else:
        assert result.error_count == 0
        assert result.created + result.updated + result.unchanged == result.rows
        model = SPECS[kind].model.__name__
        assert after[model] == before[model] + result.created
        assert {k: v for k, v in after.items() if k != model} == {
            k: v for k, v in before.items() if k != model
        }
