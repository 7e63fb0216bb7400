"""Set-based writes of a run: its scores and the flags that follow them.

A run writes one score row per customer and raises, keeps or closes flags for many of
them. Row-by-row writes through the ORM cost minutes at a million customers; here the
scores travel to PostgreSQL as one CSV stream (``COPY``, the CSV written by Arrow), and
the flags are synchronised by three statements against a temporary table of the flags
this run raised. Other databases get the same statements, fed by ``executemany``.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from django.db import connection, connections

from . import engine, partitions
from .models import CustomerFlag, CustomerScore

COPY_BLOCK = 8 * 1024 * 1024
COPY_CONNECTIONS = 2
PARALLEL_COPY_ROWS = 50_000  # fewer rows go in one COPY

MONEY_COLUMNS = [
    "revenue", "gross_margin", "cost_activities", "cost_tickets", "cost_complaints",
    "cost_concessions", "cost_collection", "cost_commitments", "cost_to_serve",
    "acquisition_cost", "profit_to_date", "annual_value", "annual_cost_to_serve",
    "annual_profit", "future_margin", "future_cost_to_serve", "predicted_future_value", "clv",
    "complaint_concessions_last_year",
]  # fmt: skip
FLOAT_COLUMNS = ["recency_weeks", "age_weeks", "complaints_per_year"]
OPTIONAL_FLOATS = ["p_alive", "expected_purchases", "role_fit", "compliance", "forgiveness",
                   "holdout_predicted"]  # fmt: skip
INT_COLUMNS = ["frequency", "complaints_last_year", "purchases_last_year"]
FLAG_JSON = np.array([json.dumps(kinds) for kinds in engine.FLAG_LISTS], dtype=object)


def score_rows(run_id: int, scores: pd.DataFrame) -> pd.DataFrame:
    """The engine's per-customer frame as rows of the score table: money rounded to the
    cent, missing values as NaN/None (NULL), flags as JSON text."""
    n = len(scores)

    def optional(name: str) -> np.ndarray:
        if name not in scores:
            return np.full(n, np.nan)
        return scores[name].to_numpy(dtype="float64", na_value=np.nan)

    out = {
        "run_id": np.full(n, run_id, dtype=np.int64),
        "customer_id": scores.index.to_numpy(dtype=np.int64),
    }
    for name in MONEY_COLUMNS:
        values = scores[name].to_numpy(dtype="float64")
        if name == "cost_to_serve":
            values = np.maximum(values, 0.0)
        out[name] = np.round(values, 2)
    for name in FLOAT_COLUMNS:
        out[name] = scores[name].to_numpy(dtype="float64")
    for name in OPTIONAL_FLOATS:
        out[name] = optional(name)
    for name in INT_COLUMNS:
        out[name] = scores[name].to_numpy(dtype="float64").round().astype(np.int64)
    out["expected_margin_per_purchase"] = np.round(optional("expected_margin_per_purchase"), 2)
    actual = optional("holdout_actual")
    out["holdout_actual"] = pd.array(
        np.where(np.isnan(actual), 0, actual).round().astype(np.int64),
        dtype="Int64",
    )
    out["holdout_actual"][np.isnan(actual)] = pd.NA
    out["klass"] = scores["klass"].astype(str).to_numpy(dtype=object)
    out["flag_mask"] = scores["flag_mask"].to_numpy(dtype=np.int64)
    out["flags"] = FLAG_JSON[out["flag_mask"]]
    return pd.DataFrame(out)


def _csv(frame: pd.DataFrame) -> pa.Buffer:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False))
    return sink.getvalue()


def _copy_in(table: str, columns: list[str], frame: pd.DataFrame) -> None:
    """``frame`` into ``table`` with one ``COPY ... FROM STDIN`` (PostgreSQL)."""
    qn = connection.ops.quote_name
    data = memoryview(_csv(frame))
    # Identifiers come from the models' metadata, quoted; the rows travel as data.
    statement = "COPY {} ({}) FROM STDIN WITH (FORMAT csv)".format(  # nosec B608 # quoted identifiers of our own tables
        qn(table), ", ".join(qn(c) for c in columns)
    )
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for start in range(0, len(data), COPY_BLOCK):
            copy.write(data[start : start + COPY_BLOCK])


def _copy_in_parallel(table: str, columns: list[str], frame: pd.DataFrame) -> None:
    """``_copy_in`` of ``COPY_CONNECTIONS`` slices of ``frame`` at once, each on a
    connection of its own: the server parses one slice's CSV while Arrow writes another
    (a run's table is nobody else's until it is attached, so the slices need not share
    a transaction). Inside a transaction, whose table other connections cannot see,
    and for a few rows, one ``COPY`` on this connection."""
    if connection.in_atomic_block or len(frame) < PARALLEL_COPY_ROWS:
        _copy_in(table, columns, frame)
        return

    def copy_slice(rows: slice) -> None:
        try:
            _copy_in(table, columns, frame.iloc[rows])
        finally:
            connections.close_all()  # this thread's own connection

    size = -(-len(frame) // COPY_CONNECTIONS)
    slices = [slice(k, k + size) for k in range(0, len(frame), size)]
    with ThreadPoolExecutor(max_workers=COPY_CONNECTIONS) as pool:
        list(pool.map(copy_slice, slices))  # raises the first failure


def scores_write(run_id: int, scores: pd.DataFrame, *, attach: bool = True) -> int:
    """Write a run's scores; returns the number of rows. On a partitioned PostgreSQL
    table they go into the run's own table, attached as its partition unless
    ``attach`` is false (a chunk of a split run: the last step attaches)."""
    rows = score_rows(run_id, scores)
    if partitions.is_partitioned():
        # A whole run starts its table afresh; a chunk adds to the one the run prepared.
        table = partitions.staging_create(run_id) if attach else partitions.staging_ready(run_id)
        _copy_in_parallel(table, list(rows.columns), rows)
        if attach:
            partitions.attach(run_id)
        return len(rows)
    if connection.vendor == "postgresql":
        _copy_in(CustomerScore._meta.db_table, list(rows.columns), rows)
        return len(rows)
    records = rows.astype(object).where(rows.notna(), None).to_dict("records")
    batch = []
    for record in records:
        for name in [*MONEY_COLUMNS, "expected_margin_per_purchase"]:
            if record[name] is not None:
                record[name] = Decimal(f"{record[name]:.2f}")
        record["flags"] = json.loads(record["flags"])
        batch.append(CustomerScore(**record))
    CustomerScore.objects.bulk_create(batch, batch_size=2000)
    return len(rows)


# --- flags ---------------------------------------------------------------------------


def _details(kind: str, rows: pd.DataFrame) -> list[str]:
    """What a flag says, for the customers raising it (``_flag_detail`` of each row)."""
    if kind == "unprofitable":
        return [f"CLV {v:,.0f}" for v in rows["clv"].tolist()]
    if kind == "costly_to_serve":
        return [
            f"Cost to serve {c:,.0f} a year against {v:,.0f} of annual margin"
            for c, v in zip(
                rows["annual_cost_to_serve"].tolist(), rows["annual_value"].tolist(), strict=True
            )
        ]
    if kind == "inherently_unhappy":
        return [f"{v:.1f} complaints a year" for v in rows["complaints_per_year"].tolist()]
    if kind == "at_risk":
        return [f"P(active) {v:.0%}" for v in rows["p_alive"].tolist()]
    if kind == "failed_by_us":
        return [f"Commitment compliance {v:.0f}/100" for v in rows["compliance"].tolist()]
    return [""] * len(rows)


def raised_flags(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per flag raised in the run: customer_id, kind, detail."""
    mask = scores["flag_mask"].to_numpy(dtype=np.int64)
    parts = []
    for k, kind in enumerate(engine.FLAG_KINDS):
        rows = scores[(mask >> k) & 1 == 1]
        if rows.empty:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": rows.index.to_numpy(dtype=np.int64),
                    "kind": kind,
                    "detail": _details(kind, rows),
                }
            )
        )
    if not parts:
        return pd.DataFrame({"customer_id": pd.Series(dtype=np.int64), "kind": [], "detail": []})
    return pd.concat(parts, ignore_index=True)


RAISED = "economics_raised_flags"


def flags_sync(run_id: int, scores: pd.DataFrame, now) -> dict[str, int]:
    """Flags follow the run: an open flag the run raises again stays open (its decision
    kept, its detail brought up to date); an open flag it no longer raises is closed by
    it, noting the run that last found it (the current run, about to be replaced); a
    flag it raises that is not open is opened. Call inside the transaction that
    publishes, before the run becomes current.

    Set-based, and each statement writes no more than it must: a kept flag is rewritten
    only when its detail changed, and none of its keys change (so PostgreSQL checks no
    key and, with room on the page, updates no index)."""
    from .models import EconomicsRun

    raised = raised_flags(scores)
    qn = connection.ops.quote_name
    flags = qn(CustomerFlag._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now)
    seen_by = EconomicsRun.objects.filter(is_current=True).values_list("pk", flat=True).first()
    with connection.cursor() as cursor:
        # Every statement below is a constant but for quoted table names of our own.
        cursor.execute(f"DROP TABLE IF EXISTS {RAISED}")  # safe: a constant statement
        cursor.execute(
            f"CREATE TEMPORARY TABLE {RAISED} "  # safe: a constant statement
            "(customer_id bigint NOT NULL, kind varchar(20) NOT NULL, detail varchar(300), "
            "flag_id bigint)"
        )
        if connection.vendor == "postgresql":
            _copy_in(RAISED, ["customer_id", "kind", "detail"], raised)
        else:  # safe: a constant statement, the values are parameters
            cursor.executemany(
                f"INSERT INTO {RAISED} (customer_id, kind, detail) VALUES (%s, %s, %s)",  # noqa: S608  # nosec B608 # safe: constant, values are parameters
                list(raised.itertuples(index=False, name=None)),
            )
        cursor.execute(f"CREATE INDEX {RAISED}_key ON {RAISED} (customer_id, kind)")  # safe
        # A temporary table is never analysed on its own; without statistics the planner
        # takes it for a few rows and picks nested loops over a million.
        cursor.execute(f"ANALYZE {RAISED}")  # safe: a constant statement
        # The open flag each raised one matches, if any. Noted first, so that no later
        # statement reads the flags table while writing it (an insert probing it for
        # each new row would also scan every page it has just written).
        # safe: quoted table names of our own
        cursor.execute(
            f"UPDATE {RAISED} AS r SET flag_id = f.id FROM {flags} AS f "  # noqa: S608  # nosec B608 # safe: quoted table names of our own
            "WHERE f.status = 'open' AND f.customer_id = r.customer_id AND f.kind = r.kind"
        )
        kept = cursor.rowcount
        # safe: quoted table names of our own; the values are parameters
        cursor.execute(
            f"UPDATE {flags} SET status = 'closed', closed_by_id = %s, closed_at = %s, "  # noqa: S608  # nosec B608 # safe: quoted table names, values are parameters
            "last_seen_by_id = COALESCE(%s, last_seen_by_id) "
            f"WHERE status = 'open' AND NOT EXISTS (SELECT 1 FROM {RAISED} r "
            f"WHERE r.customer_id = {flags}.customer_id AND r.kind = {flags}.kind)",
            [run_id, at, seen_by],
        )
        closed = cursor.rowcount
        # safe: quoted table names of our own
        cursor.execute(
            f"UPDATE {flags} SET detail = r.detail FROM {RAISED} r "  # noqa: S608  # nosec B608 # safe: quoted table names of our own
            f"WHERE {flags}.id = r.flag_id AND {flags}.detail IS DISTINCT FROM r.detail"
        )
        # safe: quoted table names of our own; the values are parameters
        cursor.execute(
            f"INSERT INTO {flags} (customer_id, kind, status, detail, raised_by_id, "  # noqa: S608  # nosec B608 # safe: quoted table names, values are parameters
            "last_seen_by_id, opened_at, closed_at, decision, decision_reason, snoozed_until, "
            "decided_by_id, decided_at) "
            "SELECT r.customer_id, r.kind, 'open', r.detail, %s, NULL, %s, NULL, '', '', NULL, "
            f"NULL, NULL FROM {RAISED} r WHERE r.flag_id IS NULL",
            [run_id, at],
        )
        opened = cursor.rowcount
        cursor.execute(f"DROP TABLE {RAISED}")  # safe: a constant statement
    return {"opened": opened, "kept": kept, "closed": closed}
