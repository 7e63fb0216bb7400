"""Lists out to CSV and XLSX, safe to open in a spreadsheet.

Any text cell that a spreadsheet would run as a formula is neutralised first (see
``neutralise``). CSV streams row by row; XLSX is written by openpyxl's write-only
workbook to a temporary file, so neither holds the whole list in memory.
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone

from .filters import FIGURES
from .models import ZERO, Customer

FORMATS = ("csv", "xlsx")
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """Text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a
    leading single quote, so a spreadsheet shows it instead of running it. Numbers,
    dates and other values are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


@dataclass(frozen=True)
class ExportColumn:
    header: str
    value: Callable[[Any], Any]


CENT = Decimal("0.01")


def _money(value: Decimal | None) -> Decimal:
    return (value if value is not None else ZERO).quantize(CENT)


# The first columns are those of the customers import file, so an export shows the
# customer as it would be loaded; then the current economics run's figures.
CUSTOMER_COLUMNS = [
    ExportColumn("external_id", lambda c: c.external_id),
    ExportColumn("name", lambda c: c.name),
    ExportColumn("segment", lambda c: c.segment),
    ExportColumn("industry", lambda c: c.industry),
    ExportColumn("acquisition_channel", lambda c: c.acquisition_channel),
    ExportColumn("sales_rep", lambda c: c.sales_rep),
    ExportColumn("acquired_on", lambda c: c.acquired_on),
    ExportColumn("acquisition_cost", lambda c: c.acquisition_cost),
    ExportColumn("sales_bonus", lambda c: c.sales_bonus),
    ExportColumn(
        "account_manager", lambda c: c.account_manager.username if c.account_manager else ""
    ),
    ExportColumn("status", lambda c: c.status),
    ExportColumn("released_on", lambda c: c.released_on),
    *[ExportColumn(name, lambda c, name=name: _figure(c, name)) for name in FIGURES],
]


def _figure(customer: Customer, name: str) -> Any:
    """A figure of the current economics run (blank before the first run)."""
    value = getattr(customer, f"current_{name}", None)
    if isinstance(value, Decimal):
        return _money(value)
    if isinstance(value, float):
        return round(value, 4)
    return value if value is not None else ""


def customer_export_rows(customers: QuerySet[Customer]) -> Iterator[list[Any]]:
    """Rows of the customer list (as filtered on the page) with their figures.
    ``customers`` comes from ``customers.selectors.customer_list``."""
    for customer in customers.iterator(chunk_size=2000):
        yield [column.value(customer) for column in CUSTOMER_COLUMNS]


def customers_export_response(customers: QuerySet[Customer], *, fmt: str) -> HttpResponse:
    stamp = timezone.localdate().isoformat()
    return export_response(
        fmt=fmt,
        filename=f"customers-{stamp}",
        header=[c.header for c in CUSTOMER_COLUMNS],
        rows=customer_export_rows(customers),
    )


def export_response(
    *, fmt: str, filename: str, header: list[str], rows: Iterable[list[Any]]
) -> HttpResponse:
    if fmt == "csv":
        return csv_response(filename=f"{filename}.csv", header=header, rows=rows)
    if fmt == "xlsx":
        return xlsx_response(filename=f"{filename}.xlsx", header=header, rows=rows)
    raise Http404(f"No export as {fmt!r}")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat(sep=" ", timespec="seconds")
    return neutralise(value)


def csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """UTF-8 with a BOM (so spreadsheets detect the encoding), comma-separated."""
    writer = csv.writer(_Echo())
    try:
        yield "\ufeff" + writer.writerow([neutralise(h) for h in header])
        for row in rows:
            yield writer.writerow([_csv_cell(v) for v in row])
    finally:
        close = getattr(rows, "close", None)  # a generator releasing a file, say
        if close is not None:
            close()


def csv_response(*, filename: str, header: list[str], rows: Iterable[list[Any]]):
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _xlsx_cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    return neutralise(value)


def xlsx_file(header: list[str], rows: Iterable[list[Any]], *, title: str = "Export"):
    """A temporary file holding the workbook, positioned at its start."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title[:31])
    bold = Font(bold=True)
    head = []
    for h in header:
        cell = WriteOnlyCell(sheet, value=neutralise(h))
        cell.font = bold
        head.append(cell)
    sheet.append(head)
    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=_xlsx_cell(value))
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            elif isinstance(value, Decimal):
                cell.number_format = "#,##0.00"
            elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                cell.number_format = "yyyy-mm-dd"
            cells.append(cell)
        sheet.append(cells)
    handle = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it
    book.save(handle)
    handle.seek(0)
    return handle


def xlsx_response(*, filename: str, header: list[str], rows: Iterable[list[Any]]):
    return FileResponse(
        xlsx_file(header, rows),
        as_attachment=True,
        filename=filename,
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
