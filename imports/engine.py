"""One import, from a source to a result: read in chunks, validate, stage, check, write.

The pass over the file validates each chunk (pandas, vectorised) and stages its rows
and errors in temporary tables; whole-file checks then run in SQL. Only a file without
a single error is written, in one transaction, by one ``INSERT … ON CONFLICT``.
"""

from __future__ import annotations

import csv
import io
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

import pandas as pd
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from .reading import CHUNK_ROWS, Source, SourceError
from .specs import ORDER_LIKE, IfAndOnlyIf, OneOf, Spec, normalise_header
from .staging import Stage
from .validation import MAX_VALUE_CHARS, validate_chunk

ERRORS_KEPT = 200
PREVIEW_ROWS = 10
REPORT_HEADER = ["row", "column", "value", "code", "reason"]

Progress = Callable[[str, int], None]


class ImportConflict(Exception):
    """The data changed between validation and the write (a referenced record was
    deleted): nothing was written."""


@dataclass
class ImportResult:
    kind: str
    status: str  # "imported", "validated" (dry run) or "rejected"
    dry_run: bool
    file_name: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    customers_created: int = 0
    error_count: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0
    # The full error report as CSV (raw values: exports neutralise formulas).
    report: IO[bytes] | None = field(default=None, repr=False)
    job_id: int | None = None  # the history entry, when one was recorded

    IMPORTED = "imported"
    VALIDATED = "validated"
    REJECTED = "rejected"

    @property
    def ok(self) -> bool:
        return self.status != self.REJECTED

    @property
    def summary(self) -> str:
        if self.status == self.REJECTED:
            if not self.rows and self.error_count and not self.rejected:
                return "The file cannot be imported; nothing was written."
            return (
                f"{self.rejected:,} of {self.rows:,} rows have errors "
                f"({self.error_count:,} in all); nothing was written."
            )
        verb = "would be " if self.dry_run else ""
        parts = [
            f"{self.created:,} {verb}created",
            f"{self.updated:,} {verb}updated",
            f"{self.unchanged:,} unchanged",
        ]
        text = f"{self.rows:,} row{'s' if self.rows != 1 else ''}: {', '.join(parts)}."
        if self.customers_created:
            n = self.customers_created
            text += f" {n:,} new customer{'s' if n != 1 else ''} {verb}created."
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "status": self.status,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "customers_created": self.customers_created,
            "error_count": self.error_count,
            "errors": self.errors,
            "summary": self.summary,
        }

    def close(self) -> None:
        if self.report is not None:
            self.report.close()
            self.report = None


def check_header(spec: Spec, names: list[str]) -> list[tuple[str, str, str, str]]:
    """(column, value, code, reason) for every problem with the header itself."""
    problems = []
    seen: set[str] = set()
    for name in names:
        if not name:
            continue
        if name in seen:
            problems.append((name, name, "duplicate_column", "appears twice in the header"))
        seen.add(name)
        if name not in spec.by_name:
            known = ", ".join(spec.by_name)
            problems.append(
                (name, name, "unknown_column", f"is not a column of {spec.kind} files ({known})")
            )
    for name in spec.required:
        if name not in seen:
            problems.append((name, "", "missing_column", "is a required column"))
    for rule in spec.rules:
        if isinstance(rule, IfAndOnlyIf) and rule.column in seen and rule.when not in seen:
            problems.append((rule.when, "", "missing_column", f"is needed with {rule.column}"))
        if isinstance(rule, OneOf) and not seen & set(rule.columns):
            problems.append(
                (rule.columns[0], "", "missing_column", " or ".join(rule.columns) + " is needed")
            )
    return problems


def run(
    spec: Spec,
    source: Source,
    *,
    dry_run: bool,
    create_missing_customers: bool = False,
    time_zone: str = "UTC",
    progress: Progress | None = None,
    keep_errors: int | None = ERRORS_KEPT,
    chunk_rows: int = CHUNK_ROWS,
    max_rows: int | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> ImportResult:
    """Validate ``source`` against ``spec`` and, unless ``dry_run`` or any row is bad,
    write it. ``keep_errors`` bounds the errors kept in the result (None: all); the
    full report is in ``result.report`` either way. A file with more than ``max_rows``
    rows is refused as soon as the reader passes that many, without reading on."""
    started = time.monotonic()
    report = progress or (lambda stage, percent: None)
    create_missing_customers = create_missing_customers and spec.kind in ORDER_LIKE
    result = ImportResult(kind=spec.kind, status=ImportResult.REJECTED, dry_run=dry_run)
    result.file_name = source.name
    header_row = source.header_row

    try:
        names = [normalise_header(h) for h in source.header()]
    except SourceError as exc:
        return _file_rejected(result, exc.row or header_row, "", "", exc.code, exc.message, started)
    problems = check_header(spec, names)
    if problems:
        return _header_rejected(result, header_row, problems, keep_errors, started)

    # A file that sets ``status`` but has no ``released_on`` column means "not released".
    implied = [
        rule.column
        for rule in spec.rules
        if isinstance(rule, IfAndOnlyIf) and rule.when in names and rule.column not in names
    ]
    columns = [c.name for c in spec.columns if c.name in names or c.name in implied]
    result.columns = [n for n in names if n]
    unnamed = [i for i, n in enumerate(names) if not n]
    connection = connections[using]
    stage = Stage(spec, columns, connection=connection)
    stage.create()
    try:
        source_error: SourceError | None = None
        report("validating", 0)
        try:
            for chunk in source.chunks(chunk_rows):
                chunk.columns = range(len(names))
                blank = (chunk == "").all(axis=1)
                chunk = chunk[~blank]
                if chunk.empty:
                    continue
                if max_rows is not None and result.rows + len(chunk) > max_rows:
                    raise SourceError(
                        f"The file has more than {max_rows:,} rows, the most one import "
                        "takes (IMPORT_MAX_ROWS): split it into smaller files.",
                        row=int(chunk.index[max_rows - result.rows]),
                        code="too_many_rows",
                    )
                frame = chunk[[names.index(c) for c in columns if c not in implied]]
                frame.columns = [c for c in columns if c not in implied]
                for name in implied:
                    frame[name] = ""
                frame = frame[columns]
                checked = validate_chunk(spec, frame, columns=columns, time_zone=time_zone)
                errors = checked.errors
                if unnamed:
                    errors = pd.concat([errors, _unnamed_errors(chunk, unnamed)], ignore_index=True)
                stage.add_rows(checked.clean)
                stage.add_errors(errors)
                if len(result.preview) < PREVIEW_ROWS:
                    result.preview += _preview(chunk, names, PREVIEW_ROWS - len(result.preview))
                result.rows += len(chunk)
                report("validating", int(70 * source.fraction_read()))
        except SourceError as exc:
            source_error = exc
            stage.add_errors(
                pd.DataFrame(
                    [
                        {
                            "row": exc.row or header_row or 0,
                            "column": "",
                            "value": "",
                            "code": exc.code,
                            "reason": exc.message,
                        }
                    ]
                )
            )
        report("checking", 75)
        stage.analyze()
        if source_error is None:
            if result.rows == 0:
                stage.add_errors(
                    pd.DataFrame(
                        [
                            {
                                "row": (header_row or 0) + 1,
                                "column": "",
                                "value": "",
                                "code": "no_rows",
                                "reason": "The file has no rows to import.",
                            }
                        ]
                    )
                )
            stage.check_duplicates()
            stage.check_references(create_missing_customers=create_missing_customers)
            stage.check_existing_records()
        result.error_count, result.rejected = stage.error_summary()
        if result.error_count:
            _collect_errors(result, stage, keep_errors)
            result.duration = time.monotonic() - started
            return result

        now = timezone.now()
        if dry_run:
            counts = stage.preview_counts(now)
            if create_missing_customers:
                result.customers_created = stage.missing_customers()
            result.status = ImportResult.VALIDATED
        else:
            report("saving", 85)
            with transaction.atomic(using=using):
                if create_missing_customers:
                    result.customers_created = stage.create_missing_customers(now)
                if stage.unresolved():
                    raise ImportConflict(
                        "Records this file refers to were deleted while it was imported; "
                        "nothing was written. Import it again."
                    )
                counts = stage.upsert(now)
            result.status = ImportResult.IMPORTED
        result.created, result.updated, result.unchanged = (
            counts.created,
            counts.updated,
            counts.unchanged,
        )
        report("done", 100)
        result.duration = time.monotonic() - started
        return result
    finally:
        stage.drop()


def _unnamed_errors(chunk: pd.DataFrame, positions: list[int]) -> pd.DataFrame:
    parts = []
    for position in positions:
        values = chunk[position]
        filled = values != ""
        if filled.any():
            parts.append(
                pd.DataFrame(
                    {
                        "row": values.index[filled.to_numpy()].astype("int64"),
                        "column": f"(column {position + 1})",
                        "value": values[filled].str.slice(0, MAX_VALUE_CHARS).to_numpy(),
                        "code": "unnamed_column",
                        "reason": "is in a column without a header",
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=REPORT_HEADER)
    return pd.concat(parts, ignore_index=True)


def _preview(chunk: pd.DataFrame, names: list[str], n: int) -> list[dict[str, Any]]:
    head = chunk.head(n)
    keep = [i for i, name in enumerate(names) if name]
    return [
        {"row": int(row), "values": [str(values[i])[:MAX_VALUE_CHARS] for i in keep]}
        for row, values in zip(head.index, head.itertuples(index=False, name=None), strict=True)
    ]


def _collect_errors(result: ImportResult, stage: Stage, keep: int | None) -> None:
    handle = tempfile.TemporaryFile()  # noqa: SIM115 — handed to the caller in the result
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(REPORT_HEADER)
    for row_no, column, value, code, reason in stage.iter_errors():
        if keep is None or len(result.errors) < keep:
            result.errors.append(
                {
                    "row": row_no or None,
                    "column": column,
                    "value": value,
                    "code": code,
                    "reason": reason,
                }
            )
        writer.writerow([row_no or "", column, value, code, reason])
    text.flush()
    text.detach()
    handle.seek(0)
    result.report = handle


def _report_of(errors: list[dict[str, Any]]) -> IO[bytes]:
    handle = tempfile.TemporaryFile()  # noqa: SIM115 — handed to the caller in the result
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="", write_through=True)
    writer = csv.writer(text)
    writer.writerow(REPORT_HEADER)
    for e in errors:
        writer.writerow([e["row"] or "", e["column"], e["value"], e["code"], e["reason"]])
    text.flush()
    text.detach()
    handle.seek(0)
    return handle


def _header_rejected(result, header_row, problems, keep, started) -> ImportResult:
    errors = [
        {"row": header_row, "column": column, "value": value, "code": code, "reason": reason}
        for column, value, code, reason in problems
    ]
    result.error_count = len(errors)
    result.errors = errors if keep is None else errors[:keep]
    result.report = _report_of(errors)
    result.duration = time.monotonic() - started
    return result


def _file_rejected(result, row, column, value, code, reason, started) -> ImportResult:
    return _header_rejected(result, row, [(column, value, code, reason)], None, started)


def rejected_source(spec: Spec, exc: SourceError, *, name: str, dry_run: bool) -> ImportResult:
    """The result for a file that could not even be opened (empty, not a workbook …)."""
    result = ImportResult(kind=spec.kind, status=ImportResult.REJECTED, dry_run=dry_run)
    result.file_name = name
    return _file_rejected(result, exc.row, "", "", exc.code, exc.message, time.monotonic())
