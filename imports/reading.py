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
import os
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any, Protocol

import pandas as pd

CHUNK_ROWS = 50_000
XLSX_MAGIC = b"PK\x03\x04"  # a zip archive's first local file header
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an old binary .xls (OLE2) workbook
MB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """What one import accepts; checked before (bytes, zip directory) or while (rows)
    the file is read. The import service fills it from the settings."""

    max_bytes: int = 200 * MB
    max_rows: int = 5_000_000
    # An XLSX file is a zip archive of XML files: the total they unpack to, the most
    # any entry may be compressed (worksheets written by Excel or openpyxl reach ~20:1,
    # zip bombs 1000:1) and the most entries (a workbook has a dozen or so).
    xlsx_max_uncompressed: int = 2048 * MB
    xlsx_max_ratio: int = 100
    xlsx_max_entries: int = 10_000


def size_text(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n:,} bytes"


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


def open_source(data: Any, *, name: str = "", limits: Limits | None = None) -> Source:
    """A source for a path, a binary file object or a list of dicts (the API).

    Before anything is parsed: the file's size against ``limits.max_bytes``; what it is
    from its first bytes (a zip archive is read as XLSX once its directory passes
    ``check_xlsx_archive``, an old ``.xls`` or a ``.xlsx`` that is no zip is refused,
    anything else is CSV)."""
    limits = limits or Limits()
    if isinstance(data, list):
        return RecordsSource(data, name=name or "request")
    if isinstance(data, str | bytes) or hasattr(data, "__fspath__"):
        path = os.fsdecode(data)
        check_size(os.path.getsize(path), limits)
        handle: IO[bytes] = open(path, "rb")  # noqa: SIM115 — closed by the importer
        name = name or path.rsplit("/", 1)[-1]
    else:
        handle = data
        name = name or getattr(data, "name", "") or "upload"
        handle.seek(0, io.SEEK_END)
        check_size(handle.tell(), limits)
    handle.seek(0)
    head = handle.read(len(XLS_MAGIC))
    handle.seek(0)
    if head.startswith(XLSX_MAGIC):
        check_xlsx_archive(handle, limits)
        return XlsxSource(handle, name=name)
    if head == XLS_MAGIC:
        raise SourceError(
            "The file is an old Excel workbook (.xls): save it as XLSX or as “CSV UTF-8”.",
            code="not_xlsx",
        )
    if PurePath(name).suffix.lower() == ".xlsx":
        raise SourceError(
            "The file is named .xlsx but is not an XLSX workbook (an XLSX file is a zip "
            "archive): save it from the spreadsheet as XLSX, or as “CSV UTF-8”.",
            code="not_xlsx",
        )
    return CsvSource(handle, name=name)


def check_size(size: int, limits: Limits) -> None:
    if size > limits.max_bytes:
        raise SourceError(too_large_message(size, limits.max_bytes), code="too_large")


def too_large_message(size: int | None, max_bytes: int, *, what: str = "file") -> str:
    subject = f"The {what} ({size_text(size)})" if size else f"The {what}"
    return (
        f"{subject} is larger than {size_text(max_bytes)}, the most one import takes "
        f"(IMPORT_MAX_BYTES): split it into smaller {what}s."
    )


def check_xlsx_archive(handle: IO[bytes], limits: Limits) -> None:
    """Refuse a zip archive that is no workbook, or that would unpack to too much,
    from its central directory alone: nothing is decompressed here. (Python's zipfile,
    which openpyxl uses, stops an entry at the size the directory declares.)"""
    unreadable = SourceError("The file is not a readable XLSX workbook.", code="unreadable")
    entries = _zip_entry_count(handle)
    handle.seek(0)
    if entries is None:
        raise unreadable
    too_many = SourceError(
        f"The workbook holds more than {limits.xlsx_max_entries:,} files, which no "
        "spreadsheet does: it is not imported.",
        code="xlsx_too_large",
    )
    if entries > limits.xlsx_max_entries:
        raise too_many
    try:
        with zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise unreadable from exc
    finally:
        handle.seek(0)
    if len(infos) > limits.xlsx_max_entries:  # the end record can lie (or hide in a comment)
        raise too_many
    names = {info.filename for info in infos}
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise SourceError(
            "The file is a zip archive but not an XLSX workbook: save it from the "
            "spreadsheet as XLSX, or as “CSV UTF-8”.",
            code="not_xlsx",
        )
    total = sum(info.file_size for info in infos)
    if total > limits.xlsx_max_uncompressed:
        raise SourceError(
            f"The workbook unpacks to {size_text(total)}, more than "
            f"{size_text(limits.xlsx_max_uncompressed)}: it is not imported. "
            "Split it, or save it as CSV.",
            code="xlsx_too_large",
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > 64 * 1024 and ratio > limits.xlsx_max_ratio:
            raise SourceError(
                f"The workbook's part {info.filename} is compressed {ratio:,.0f} to 1, far "
                "more than a spreadsheet is (a “zip bomb”?): it is not imported.",
                code="xlsx_too_large",
            )


def _zip_entry_count(handle: IO[bytes]) -> int | None:
    """The number of entries the zip's end-of-central-directory record declares (ZIP64
    included), read before the directory itself is; None when there is no such record."""
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    tail_size = min(size, 22 + 0xFFFF)  # the record, and a comment of at most 64 KiB
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        return None
    (entries,) = struct.unpack("<H", tail[at + 10 : at + 12])
    if entries != 0xFFFF:
        return entries
    locator = tail[at - 20 : at] if at >= 20 else b""
    if not locator.startswith(b"PK\x06\x07"):
        return None
    (offset,) = struct.unpack("<Q", locator[8:16])
    if offset > size - 56:
        return None
    handle.seek(offset)
    record = handle.read(56)
    if not record.startswith(b"PK\x06\x06"):
        return None
    (entries64,) = struct.unpack("<Q", record[32:40])
    return entries64


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
        if sample.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in sample:
            raise _not_text()
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
            try:
                self._header = next(csv.reader([text], delimiter=self.delimiter), [])
            except csv.Error as exc:
                raise SourceError(f"The header is not valid CSV: {exc}.", row=1) from exc
        return self._header

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        width = len(self.header())
        self._handle.seek(0)
        first = True
        try:
            reader = pd.read_csv(
                io.BufferedReader(_NoNulReader(self._handle)),
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


def _not_text() -> SourceError:
    return SourceError(
        "The file holds NUL characters, so it is not UTF-8 text (UTF-16? a binary file?): "
        "save it as “CSV UTF-8” (or as XLSX) and upload it again.",
        code="not_utf8",
    )


class _NoNulReader(io.RawIOBase):
    """The CSV as pandas reads it, refusing a NUL byte: no text has one, and a
    database column cannot hold it."""

    def __init__(self, handle: IO[bytes]):
        self._handle = handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._handle.read(len(buffer))
        if b"\x00" in data:
            raise _not_text()
        buffer[: len(data)] = data
        return len(data)


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
        self._read = 1
        try:
            self._book = load_workbook(handle, read_only=True, data_only=True)
            self._sheet = self._book.worksheets[0]
            self._total = self._sheet.max_row or 0
            self._rows = self._sheet.iter_rows(min_row=1, values_only=True)
        except Exception as exc:  # openpyxl raises many kinds for a broken workbook
            raise SourceError("The file is not a readable XLSX workbook.") from exc
        first = self._next_row()
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
            number = 1
            while (values := self._next_row()) is not None:
                number += 1
                self._read = number
                cells = [cell_text(v) for v in values]
                if any("\x00" in c for c in cells):  # an XML-escaped _x0000_, say
                    raise SourceError(
                        f"Row {number} holds a NUL character, which no text column can store.",
                        row=number,
                        code="invalid_character",
                    )
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

    def _next_row(self) -> tuple | None:
        try:
            return next(self._rows, None)
        except Exception as exc:  # a broken or hostile sheet: openpyxl raises many kinds
            self._book.close()
            raise SourceError(
                f"The worksheet cannot be read after row {self._read}: the file is damaged "
                "or not a plain workbook (XML entities, for one, are refused).",
                row=self._read + 1,
                code="unreadable",
            ) from exc

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
        for key in self._header:
            if not _storable(key):
                raise SourceError(
                    "A field name holds a NUL character or an unpaired surrogate.",
                    code="invalid_character",
                )
        return self._header

    def chunks(self, rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
        for start in range(0, len(self._records), rows):
            part = self._records[start : start + rows]
            batch = [[_json_text(r.get(k)) for k in self._header] for r in part]
            for offset, cells in enumerate(batch):
                for key, cell in zip(self._header, cells, strict=True):
                    if not _storable(cell):
                        raise SourceError(
                            f"Record {start + offset + 1}, {key}: holds a NUL character or "
                            "an unpaired surrogate, which no text column can store.",
                            row=start + offset + 1,
                            code="invalid_character",
                        )
            self._done = start + len(part)
            yield _frame(batch, list(range(start + 1, start + len(part) + 1)), len(self._header))

    def fraction_read(self) -> float:
        return self._done / len(self._records) if self._records else 1.0


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _json_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
