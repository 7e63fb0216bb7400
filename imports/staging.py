# ruff: noqa: S608 — SQL here is safe: it is built from identifiers of the specs and the
# models (quoted where they are the models') and of the random staging tables, never from
# file contents; every value is a parameter or arrives through COPY / executemany.
# (bandit: each such statement carries `# nosec B608`.)
"""The database side of an import: a temporary staging table and set-based SQL.

Validated rows go into a temporary table (PostgreSQL: ``COPY``; SQLite: one
``executemany`` per chunk), errors into a second one. The checks that need the whole
file or the database (duplicates of the natural key, references) are single SQL
statements over the staging table, and the write is one
``INSERT … SELECT … ON CONFLICT (external_id) DO UPDATE … WHERE … IS DISTINCT FROM …``:
a row that would not change is not touched. Memory does not grow with the file.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from customers.models import Customer

from .specs import CUSTOMERS, Column, DateOrder, NotSame, Spec, Type

ERROR_FIELDS = ["row_no", "col_pos", "col", "value", "code", "reason"]


@dataclass(frozen=True)
class Counts:
    created: int
    updated: int
    unchanged: int


class Stage:
    def __init__(self, spec: Spec, columns: list[str], *, connection: BaseDatabaseWrapper):
        self.spec = spec
        self.columns = columns  # present spec columns, in spec order
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        if connection.vendor not in ("postgresql", "sqlite"):
            raise NotImplementedError(
                f"imports support PostgreSQL and SQLite, not {connection.vendor}"
            )
        token = uuid.uuid4().hex[:12]
        self.table = f"import_stage_{token}"
        self.errors_table = f"import_errors_{token}"
        self._positions = {c.name: i for i, c in enumerate(spec.columns)}
        self._created = False

    # --- names and types ---------------------------------------------------------
    def q(self, name: str) -> str:
        return self.connection.ops.quote_name(name)

    @staticmethod
    def stage_column(name: str) -> str:
        return f"c_{name}"

    def _stage_type(self, column: Column) -> str:
        if not self.postgres:
            return ""  # no affinity: values arrive as text and the target converts them
        if column.type in (Type.TEXT, Type.REFERENCE, Type.CHOICE):
            return "text"
        field = self.spec.model._meta.get_field(column.model_field)
        return field.db_type(self.connection)

    def _target_column(self, column: Column) -> str:
        return self.spec.model._meta.get_field(column.model_field).column

    @property
    def target_table(self) -> str:
        return self.spec.model._meta.db_table

    # --- lifecycle -----------------------------------------------------------------
    def create(self) -> None:
        cols = ["row_no integer"] + [
            f"{self.stage_column(c)} {self._stage_type(self.spec.by_name[c])}".strip()
            for c in self.columns
        ]
        with self.connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {self.table} ({', '.join(cols)})")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.errors_table} (row_no integer, col_pos integer, "
                "col text, value text, code text, reason text)"
            )
        self._created = True

    def drop(self) -> None:
        if not self._created:
            return
        with self.connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")
            cursor.execute(f"DROP TABLE IF EXISTS {self.errors_table}")
        self._created = False

    # --- loading -------------------------------------------------------------------
    def add_rows(self, clean: pd.DataFrame) -> None:
        if clean.empty:
            return
        frame = pd.DataFrame({"row_no": clean.index.astype("int64")}, index=clean.index)
        for name in self.columns:
            frame[self.stage_column(name)] = self._db_values(self.spec.by_name[name], clean[name])
        text_columns = [
            self.stage_column(n) for n in self.columns if self.spec.by_name[n].type == Type.TEXT
        ]
        self._load(self.table, frame, text_columns)

    def add_errors(self, errors: pd.DataFrame) -> None:
        if errors.empty:
            return
        frame = pd.DataFrame(
            {
                "row_no": errors["row"].astype("int64"),
                "col_pos": errors["column"].map(self._positions).fillna(-1).astype("int64"),
                "col": errors["column"],
                "value": errors["value"],
                "code": errors["code"],
                "reason": errors["reason"],
            }
        )
        self._load(self.errors_table, frame, ["col", "value", "code", "reason"])

    def _db_values(self, column: Column, values: pd.Series) -> pd.Series:
        if column.type == Type.DATETIME:
            stamps = values
            if self.postgres:
                return stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
            # Django keeps SQLite datetimes as naive UTC text, microseconds only if any.
            text = stamps.dt.strftime("%Y-%m-%d %H:%M:%S")
            fraction = stamps.dt.microsecond.fillna(0).astype("int64")
            with_fraction = stamps.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            return text.where(fraction == 0, with_fraction)
        if column.type == Type.BOOLEAN and not self.postgres:
            return values.map({"true": 1, "false": 0})
        return values

    def _load(self, table: str, frame: pd.DataFrame, text_columns: list[str]) -> None:
        columns = ", ".join(frame.columns)
        if self.postgres:
            buffer = io.StringIO()
            # CRLF rows: a value holding a bare CR or LF is then quoted (COPY ends a row
            # at either); the csv module quotes only the characters of its line ending.
            frame.to_csv(buffer, header=False, index=False, lineterminator="\r\n")
            force = f", FORCE_NOT_NULL ({', '.join(text_columns)})" if text_columns else ""
            sql = f"COPY {table} ({columns}) FROM STDIN (FORMAT csv{force})"
            with self.connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                copy.write(buffer.getvalue())
            return
        rows = frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None)
        placeholders = ", ".join(["%s"] * len(frame.columns))
        # One short transaction per chunk: fast on SQLite, and other connections
        # still see the job's progress between chunks.
        with transaction.atomic(using=self.connection.alias), self.connection.cursor() as cursor:
            sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # nosec B608 # identifiers only
            cursor.executemany(sql, rows)

    def analyze(self) -> None:
        if self.postgres:
            with self.connection.cursor() as cursor:
                cursor.execute(f"ANALYZE {self.table}")

    # --- whole-file checks -----------------------------------------------------------
    def check_duplicates(self) -> None:
        key = self.stage_column(self.spec.key)
        reason = "appears more than once in the file (first in row "
        self._execute(
            f"""
            INSERT INTO {self.errors_table} (row_no, col_pos, col, value, code, reason)
            SELECT s.row_no, %s, %s, s.{key}, 'duplicate_key',
                   %s || CAST(f.first_row AS text) || ')'
            FROM {self.table} s
            JOIN (SELECT {key} AS k, MIN(row_no) AS first_row FROM {self.table}
                  WHERE {key} IS NOT NULL GROUP BY {key} HAVING COUNT(*) > 1) f
              ON f.k = s.{key}
            WHERE s.row_no > f.first_row
            """,  # nosec B608 # identifiers only
            [self._positions[self.spec.key], self.spec.key, reason],
        )

    def check_existing_records(self) -> None:
        """The rules between two columns when a file carries only one of them: a column
        left out keeps the record's value, so the file's value is checked against that
        (a new ``issued_on`` after the invoice's ``paid_on``, say), and reported on its
        row instead of failing the write on the database's check constraint."""
        for rule in self.spec.rules:
            if isinstance(rule, DateOrder):
                self._check_kept_date(rule.later, rule.earlier, "<", "is before")
                self._check_kept_date(rule.earlier, rule.later, ">", "is after")
            elif isinstance(rule, NotSame):
                self._check_kept_reference(rule.first, rule.second, rule.reason)
                self._check_kept_reference(rule.second, rule.first, rule.reason)

    def _joined_to_records(self) -> str:
        key = self.q(self._target_column(self.spec.by_name[self.spec.key]))
        return (
            f"FROM {self.table} s JOIN {self.q(self.target_table)} t "
            f"ON t.{key} = s.{self.stage_column(self.spec.key)}"
        )

    def _check_kept_date(self, given: str, kept: str, op: str, verb: str) -> None:
        """An error where the file's ``given`` is ``op`` the record's ``kept``."""
        if given not in self.columns or kept in self.columns:
            return
        s_col = f"s.{self.stage_column(given)}"
        t_col = f"t.{self.q(self._target_column(self.spec.by_name[kept]))}"
        self._execute(
            f"""
            INSERT INTO {self.errors_table} (row_no, col_pos, col, value, code, reason)
            SELECT s.row_no, %s, %s, CAST({s_col} AS text), 'date_order',
                   %s || CAST({t_col} AS text) || ')'
            {self._joined_to_records()}
            WHERE {s_col} IS NOT NULL AND {t_col} IS NOT NULL AND {s_col} {op} {t_col}
            """,  # nosec B608 # identifiers only
            [self._positions[given], given, f"{verb} {kept} of the record as it is ("],
        )

    def _check_kept_reference(self, given: str, kept: str, reason: str) -> None:
        """An error where the file's ``given`` names the record's ``kept``."""
        ref = self.spec.by_name[given].ref
        if given not in self.columns or kept in self.columns or ref is None:
            return
        s_col = f"s.{self.stage_column(given)}"
        t_col = f"t.{self.q(self._target_column(self.spec.by_name[kept]))}"
        r_key = self.q(ref.model._meta.get_field(ref.key).column)
        self._execute(
            f"""
            INSERT INTO {self.errors_table} (row_no, col_pos, col, value, code, reason)
            SELECT s.row_no, %s, %s, {s_col}, 'self_reference', %s
            {self._joined_to_records()}
            JOIN {self.q(ref.model._meta.db_table)} r ON r.{r_key} = {s_col}
            WHERE {t_col} = r.id
            """,  # nosec B608 # identifiers only
            [self._positions[given], given, f"is the record's {kept}: {reason}"],
        )

    def check_references(self, *, create_missing_customers: bool) -> None:
        for name in self.columns:
            column = self.spec.by_name[name]
            ref = column.ref
            if ref is None:
                continue
            if create_missing_customers and ref.model is Customer:
                continue
            s_col = self.stage_column(name)
            target = self.q(ref.model._meta.db_table)
            key = self.q(ref.model._meta.get_field(ref.key).column)
            self._execute(
                f"""
                INSERT INTO {self.errors_table} (row_no, col_pos, col, value, code, reason)
                SELECT s.row_no, %s, %s, s.{s_col}, 'unknown_reference', %s
                FROM {self.table} s
                WHERE s.{s_col} IS NOT NULL
                  AND NOT EXISTS (SELECT 1 FROM {target} t WHERE t.{key} = s.{s_col})
                """,  # nosec B608 # identifiers only
                [self._positions[name], name, f"no {ref.label} has this {ref.key}"],
            )
            if ref.same_as and ref.same_as[1] in self.columns:
                self._check_same_owner(column)

    def _check_same_owner(self, column: Column) -> None:
        """E.g. an invoice's order must be an order of the invoice's customer."""
        ref = column.ref
        if ref is None or ref.same_as is None:
            raise ValueError(f"{column.name} has no same-owner reference")
        owner_fk, other_name = ref.same_as
        other = self.spec.by_name[other_name]
        if other.ref is None:
            raise ValueError(f"{other_name} is not a reference")
        owner_table = self.q(other.ref.model._meta.db_table)
        owner_key = self.q(other.ref.model._meta.get_field(other.ref.key).column)
        fk_column = self.q(ref.model._meta.get_field(owner_fk).column)
        distinct = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        self._execute(
            f"""
            INSERT INTO {self.errors_table} (row_no, col_pos, col, value, code, reason)
            SELECT s.row_no, %s, %s, s.{self.stage_column(column.name)}, 'reference_mismatch',
                   %s || o_owner.{owner_key} || %s
            FROM {self.table} s
            JOIN {self.q(ref.model._meta.db_table)} r
              ON r.{self.q(ref.model._meta.get_field(ref.key).column)}
                 = s.{self.stage_column(column.name)}
            JOIN {owner_table} o_owner ON o_owner.id = r.{fk_column}
            LEFT JOIN {owner_table} mine ON mine.{owner_key} = s.{self.stage_column(other_name)}
            WHERE r.{fk_column} {distinct} mine.id
            """,  # nosec B608 # identifiers only
            [
                self._positions[column.name],
                column.name,
                f"belongs to {other.ref.label} ",
                f", not to this row's {other_name}",
            ],
        )

    def error_summary(self) -> tuple[int, int]:
        sql = f"SELECT COUNT(*), COUNT(DISTINCT row_no) FROM {self.errors_table}"  # nosec B608 # identifiers only
        row = self._fetchone(sql)
        return int(row[0]), int(row[1])

    def iter_errors(self, batch: int = 5000) -> Iterator[tuple]:
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"SELECT row_no, col, value, code, reason FROM {self.errors_table} "
                "ORDER BY row_no, col_pos, code"  # nosec B608 # identifiers only
            )
            while rows := cursor.fetchmany(batch):
                yield from rows

    def row_count(self) -> int:
        sql = f"SELECT COUNT(*) FROM {self.table}"  # nosec B608 # identifiers only
        return int(self._fetchone(sql)[0])

    # --- the write -------------------------------------------------------------------
    def _source(self, now) -> tuple[str, list[str], list]:
        """SELECT producing one row per staged row in the target table's columns, with
        references resolved to primary keys and absent columns at their defaults."""
        exprs: list[str] = []
        targets: list[str] = []
        params: list = []
        joins: list[str] = []
        for column in self.spec.columns:
            target = self._target_column(column)
            targets.append(self.q(target))
            if column.name in self.columns:
                s_col = f"s.{self.stage_column(column.name)}"
                if column.ref is not None:
                    alias = f"r_{column.name}"
                    ref_table = self.q(column.ref.model._meta.db_table)
                    ref_key = self.q(column.ref.model._meta.get_field(column.ref.key).column)
                    joins.append(f"LEFT JOIN {ref_table} {alias} ON {alias}.{ref_key} = {s_col}")
                    exprs.append(f"{alias}.id")
                else:
                    exprs.append(s_col)
            else:
                exprs.append(self._literal(column, params))
        for name in self.spec.timestamps:
            targets.append(self.q(self.spec.model._meta.get_field(name).column))
            exprs.append(self._cast("%s", name))
            params.append(self.connection.ops.adapt_datetimefield_value(now))
        sql = (
            f"SELECT {', '.join(f'{e} AS {t}' for e, t in zip(exprs, targets, strict=True))} "
            f"FROM {self.table} s {' '.join(joins)}"  # nosec B608 # identifiers only
        )
        return sql, targets, params

    def _cast(self, placeholder: str, field_name: str) -> str:
        if not self.postgres:
            return placeholder
        db_type = self.spec.model._meta.get_field(field_name).db_type(self.connection)
        return f"CAST({placeholder} AS {db_type})"

    def _literal(self, column: Column, params: list) -> str:
        if column.default is None:
            return self._cast("NULL", column.model_field)
        value = column.default
        if column.type == Type.BOOLEAN and not self.postgres:
            value = 1 if value == "true" else 0
        params.append(value)
        return self._cast("%s", column.model_field)

    def _compared(self) -> list[str]:
        """Target columns an update may change: the ones the file carries."""
        return [
            self.q(self._target_column(self.spec.by_name[name]))
            for name in self.columns
            if name != self.spec.key
        ]

    def _differs(self, left: str, right: str) -> str:
        cols = self._compared()
        if not cols:
            return "FALSE"
        if self.postgres:
            lhs = ", ".join(f"{left}.{c}" for c in cols)
            rhs = ", ".join(f"{right}.{c}" for c in cols)
            return f"ROW({lhs}) IS DISTINCT FROM ROW({rhs})"
        return " OR ".join(f"{left}.{c} IS NOT {right}.{c}" for c in cols)

    def preview_counts(self, now) -> Counts:
        """What the write would do, without writing."""
        source, _targets, params = self._source(now)
        key = self.q(self._target_column(self.spec.by_name[self.spec.key]))
        changed = f"CASE WHEN {self._differs('t', 'src')} THEN 1 ELSE 0 END"
        row = self._fetchone(
            f"""
            SELECT COUNT(*), COALESCE(SUM({changed}), 0)
            FROM ({source}) src JOIN {self.q(self.target_table)} t ON t.{key} = src.{key}
            """,  # nosec B608 # identifiers only
            params,
        )
        existing, changed = int(row[0]), int(row[1])
        total = self.row_count()
        return Counts(created=total - existing, updated=changed, unchanged=existing - changed)

    def missing_customers(self) -> int:
        union = self._missing_customer_refs()
        if not union:
            return 0
        sql = f"SELECT COUNT(*) FROM ({union}) m"  # nosec B608 # identifiers only
        return int(self._fetchone(sql)[0])

    def _missing_customer_refs(self) -> str:
        customer_table = self.q(Customer._meta.db_table)
        parts = [
            f"SELECT DISTINCT s.{col} AS external_id FROM {self.table} s "
            f"WHERE s.{col} IS NOT NULL AND NOT EXISTS "  # nosec B608 # identifiers only
            f"(SELECT 1 FROM {customer_table} c WHERE c.external_id = s.{col})"
            for col in (
                self.stage_column(c.name) for c in self.spec.customer_refs if c.name in self.columns
            )
        ]
        return " UNION ".join(parts)

    def create_missing_customers(self, now) -> int:
        """Customers named by the file but unknown, with their external id as name."""
        union = self._missing_customer_refs()
        if not union:
            return 0
        targets: list[str] = []
        exprs: list[str] = []
        params: list = []
        customer_stage = Stage(CUSTOMERS, [], connection=self.connection)
        for column in CUSTOMERS.columns:
            targets.append(self.q(customer_stage._target_column(column)))
            if column.name in ("external_id", "name"):
                exprs.append("m.external_id")
            else:
                exprs.append(customer_stage._literal(column, params))
        for name in CUSTOMERS.timestamps:
            targets.append(self.q(name))
            exprs.append(customer_stage._cast("%s", name))
            params.append(self.connection.ops.adapt_datetimefield_value(now))
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {self.q(Customer._meta.db_table)} ({', '.join(targets)}) "
                f"SELECT {', '.join(exprs)} FROM ({union}) m WHERE TRUE "  # nosec B608 # identifiers only
                "ON CONFLICT (external_id) DO NOTHING",
                params,
            )
            return max(cursor.rowcount, 0)

    def unresolved(self) -> int:
        """Staged references that resolve to nothing: zero after validation, unless a
        record was deleted since."""
        conditions = []
        for name in self.columns:
            column = self.spec.by_name[name]
            if column.ref is None:
                continue
            table = self.q(column.ref.model._meta.db_table)
            key = self.q(column.ref.model._meta.get_field(column.ref.key).column)
            s_col = f"s.{self.stage_column(name)}"
            conditions.append(
                f"({s_col} IS NOT NULL AND NOT EXISTS "  # nosec B608 # identifiers only
                f"(SELECT 1 FROM {table} t WHERE t.{key} = {s_col}))"
            )
        if not conditions:
            return 0
        where = " OR ".join(conditions)
        sql = f"SELECT COUNT(*) FROM {self.table} s WHERE {where}"  # nosec B608 # identifiers only
        return int(self._fetchone(sql)[0])

    def upsert(self, now) -> Counts:
        """The one write: insert new rows, update changed ones, leave the rest alone."""
        source, targets, params = self._source(now)
        table = self.q(self.target_table)
        key = self.q(self._target_column(self.spec.by_name[self.spec.key]))
        sets = [f"{c} = excluded.{c}" for c in self._compared()]
        if "updated_at" in self.spec.timestamps:
            sets.append(f"{self.q('updated_at')} = excluded.{self.q('updated_at')}")
        total = self.row_count()
        if sets:
            differs = self._differs(table, "excluded")
            action = f"DO UPDATE SET {', '.join(sets)} WHERE {differs}"  # nosec B608 # identifiers only
        else:
            action = "DO NOTHING"
        insert = (
            f"INSERT INTO {table} ({', '.join(targets)}) SELECT * FROM ({source}) src WHERE TRUE "
            f"ON CONFLICT ({key}) {action}"  # nosec B608 # identifiers only
        )
        if self.postgres:
            # xmax is 0 on a freshly inserted row version and set on an updated one.
            row = self._fetchone(
                f"WITH written AS ({insert} RETURNING (xmax = 0) AS inserted) "
                "SELECT COUNT(*) FILTER (WHERE inserted), COUNT(*) FILTER (WHERE NOT inserted) "
                "FROM written",  # nosec B608 # identifiers only
                params,
            )
            created, updated = int(row[0]), int(row[1])
        else:
            existing = int(
                self._fetchone(
                    f"SELECT COUNT(*) FROM {self.table} s JOIN {table} t "
                    f"ON t.{key} = s.{self.stage_column(self.spec.key)}"  # nosec B608 # identifiers only
                )[0]
            )
            with self.connection.cursor() as cursor:
                cursor.execute(insert, params)
                written = cursor.rowcount
            created = total - existing
            updated = written - created
        return Counts(created=created, updated=updated, unchanged=total - created - updated)

    # --- helpers -------------------------------------------------------------------
    def _execute(self, sql: str, params: list | None = None) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params or [])

    def _fetchone(self, sql: str, params: list | None = None) -> tuple:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params or [])
            return cursor.fetchone()
