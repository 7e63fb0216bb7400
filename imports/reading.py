"""Turn an uploaded file (CSV or XLSX) or a list of JSON objects into chunks of text.

Every cell comes out as a ``str`` (empty for a missing value): types are decided by
validation, never by the reader, so ``007`` stays ``007`` and no amount passes through
a float. Each chunk is a DataFrame indexed by the row number a person sees in the file
(the header is row 1). No Django here.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import IO, Any, Protocol

import pandas as pd

CHUNK_ROWS = 50_000
XLSX_MAGIC = b"PK\x03\x04"
_PARSER_ERROR = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


class SourceError(Exception):
    """The file cannot be read at all (not UTF-8, a row with too many fields, ...)."""

    def __init__(self, message: str, *, row: int | None = None, code: str = "unreadable"):
        super().__init__(message)
        self.message = message
        self.row = row
        self.code = code


class Source(Protocol):
    name: str
    header_row: int | None  # where the header is, for the error report

    def header(self) -> list[str]: ...

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]: ...

    def fraction_read(self) -> float: ...


def open_source(data: Any, *, name: str = "") -> Source:
    """A source for a path, a binary file object or a list of dicts (the API)."""
    if isinstance(data, list):
        return RecordsSource(data, name=name or "request")
    if isinstance(data, str | bytes) or hasattr(data, "__fspath__"):
        path = str(data)
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 — closed by the importer
        name = name or path.rsplit("/", 1)[-1]
    else:
        handle = data
        name = name or getattr(data, "name", "") or "upload"
    head = handle.read(len(XLSX_MAGIC))
    handle.seek(0)
    if head == XLSX_MAGIC:
        return XlsxSource(handle, name=name)
    return CsvSource(handle, name=name)


def _detect_delimiter(sample: str) -> str:
    """The delimiter of the header line: comma, semicolon or tab, whichever occurs
    most often outside quotes (comma on a tie)."""
    first = re.sub(r'"[^"]*"', "", sample.split("\n", 1)[0])
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


class CsvSource:
    header_row = 1

    def __init__(self, handle: IO[bytes], *, name: str):
        self.name = name
        self._handle = handle
        handle.seek(0, io.SEEK_END)
        self._size = handle.tell() or 1
        handle.seek(0)
        sample = handle.read(64 * 1024)
        handle.seek(0)
        if not sample.strip(b"\xef\xbb\xbf \r\n\t"):
            raise SourceError("The file is empty.", code="empty_file")
        self.delimiter = _detect_delimiter(sample.decode("utf-8-sig", errors="replace"))
        self._header: list[str] | None = None

    def header(self) -> list[str]:
        if self._header is None:
            line = self._handle.readline()
            self._handle.seek(0)
            try:
                text = line.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise _not_utf8(exc) from exc
            self._header = next(csv.reader([text], delimiter=self.delimiter), [])
        return self._header

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        width = len(self.header())
        self._handle.seek(0)
        first = True
        try:
            reader = pd.read_csv(
                self._handle,
                sep=self.delimiter,
                header=None,
                names=range(width),
                dtype=str,
                keep_default_na=False,
                na_filter=False,
                skip_blank_lines=False,
                encoding="utf-8-sig",
                encoding_errors="strict",
                chunksize=rows,
                engine="c",
            )
            for frame in reader:
                frame.index = frame.index + 1  # pandas counts from 0; people from 1
                if first:
                    frame = frame.iloc[1:]  # the header
                    first = False
                if len(frame):
                    yield frame
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc) from exc
        except pd.errors.ParserError as exc:
            found = _PARSER_ERROR.search(str(exc))
            if found:
                expected, line, saw = (int(g) for g in found.groups())
                raise SourceError(
                    f"Row {line} has {saw} fields; the header has {expected}.",
                    row=line,
                    code="too_many_fields",
                ) from exc
            raise SourceError(f"The file is not valid CSV: {exc}") from exc

    def fraction_read(self) -> float:
        try:
            return min(self._handle.tell() / self._size, 1.0)
        except (OSError, ValueError):
            return 0.0


def _not_utf8(exc: UnicodeDecodeError) -> SourceError:
    return SourceError(
        "The file is not UTF-8 text: save it as “CSV UTF-8” (or as XLSX) and upload it again.",
        code="not_utf8",
    )


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a person would have typed."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


class XlsxSource:
    """The first worksheet of a workbook, read in openpyxl's streaming mode."""

    header_row = 1

    def __init__(self, handle: IO[bytes], *, name: str):
        from openpyxl import load_workbook

        self.name = name
        self._handle = handle
        try:
            self._book = load_workbook(handle, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken workbook
            raise SourceError("The file is not a readable XLSX workbook.") from exc
        self._sheet = self._book.worksheets[0]
        self._total = self._sheet.max_row or 0
        self._read = 0
        self._rows = self._sheet.iter_rows(min_row=1, values_only=True)
        first = next(self._rows, None)
        if first is None or not any(v not in (None, "") for v in first):
            self._book.close()
            raise SourceError("The worksheet is empty.", code="empty_file")
        width = max(i for i, v in enumerate(first) if v not in (None, "")) + 1
        self._header = [cell_text(v) for v in first[:width]]

    def header(self) -> list[str]:
        return self._header

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        width = len(self._header)
        batch: list[list[str]] = []
        numbers: list[int] = []
        try:
            for number, values in enumerate(self._rows, start=2):
                self._read = number
                cells = [cell_text(v) for v in values]
                if any(cells[width:]):
                    raise SourceError(
                        f"Row {number} has values right of the last column of the header.",
                        row=number,
                        code="too_many_fields",
                    )
                batch.append((cells + [""] * width)[:width])
                numbers.append(number)
                if len(batch) >= rows:
                    yield _frame(batch, numbers, width)
                    batch, numbers = [], []
            if batch:
                yield _frame(batch, numbers, width)
        finally:
            self._book.close()

    def fraction_read(self) -> float:
        return min(self._read / self._total, 1.0) if self._total else 0.0


def _frame(batch: list[list[str]], numbers: list[int], width: int) -> pd.DataFrame:
    return pd.DataFrame(batch, index=numbers, columns=range(width), dtype=str)


class RecordsSource:
    """JSON objects from the REST API: the first object is row 1."""

    header_row = None

    def __init__(self, records: list[dict[str, Any]], *, name: str = "request"):
        self.name = name
        self._records = records
        self._done = 0
        seen: dict[str, None] = {}
        for record in records:
            seen.update(dict.fromkeys(record))
        self._header = list(seen)

    def header(self) -> list[str]:
        return self._header

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        for start in range(0, len(self._records), rows):
            part = self._records[start : start + rows]
            batch = [[_json_text(r.get(k)) for k in self._header] for r in part]
            self._done = start + len(part)
            yield _frame(batch, list(range(start + 1, start + len(part) + 1)), len(self._header))

    def fraction_read(self) -> float:
        return self._done / len(self._records) if self._records else 1.0


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
