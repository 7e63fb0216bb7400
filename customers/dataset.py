"""A large generated data set, written straight into the database in bulk.

``dataset_generate()`` draws customers and their history with the demo's generator
(``customers.demo._plan``: BG/NBD-like repeat buying with drop-outs, Gamma-Gamma-like
spend, about ten orders per customer, invoices, tickets with complaints, service
activities, referrals, feedback, charters with their history) and writes them in chunks
of customers, each chunk drawn from its own seed (derived from the run's seed and the
chunk's number) and written in one transaction:

* on PostgreSQL with ``COPY ... FROM STDIN``, the text of each table built from the
  chunk's arrays at once. A worker thread draws and renders the next chunk while the
  database takes in the current one. As a superuser the per-row foreign key triggers
  are switched off for the chunk's transaction: keys into the chunk's own tables are
  checked per column against the ids reserved for them, keys to other rows (account
  managers, blueprints, activity types) by locking those rows as the triggers would.
  Then, outside a surrounding transaction, each chunk is written over two connections,
  so the database works on two cores;
* on other databases (SQLite) with ``bulk_create`` in batches, correct but not fast.

Primary keys are assigned here: each chunk reserves a block of ids per table by moving
the table's sequence past it, so no round trip is needed to learn them and later inserts
through the ORM never collide with them.

Every generated customer (and every row hanging off one) has an ``external_id`` starting
with ``GEN-`` (charters and charter events, which have none, hang off GEN- customers);
customer names are unique, also against the customers already there. The demo's
activity types and role blueprints are reused when they exist and created otherwise,
so the demo's own clean-up refuses to remove them while generated data uses them. The
same seed, end date and chunk size give the same rows (given the same other customers'
names).

A run is not one transaction: if it stops half-way, the chunks written so far stay, and
the next run refuses to start until it is asked to ``replace`` them, which deletes the
GEN- customers and everything hanging off them set-based.
"""

from __future__ import annotations

import json
import operator
import re
import time as timer
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db import DatabaseError, connection, models, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts.services import demo_users_ensure
from customers.demo import (
    ACCOUNT_MANAGERS,
    ACTIVITY_CODES,
    BLUEPRINT_NAMES,
    CATEGORIES,
    CHANNELS,
    COMPLAINT_SUBJECTS,
    HISTORY_YEARS,
    INDUSTRIES,
    INSIGHTS,
    SALES_REPS,
    SEGMENTS,
    TICKET_CHANNELS,
    TICKET_PRIORITIES,
    TICKET_SUBJECTS,
    _money,
    _plan,
    _restamp,
    _write_reference,
    _years_before,
)
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
from roles.models import Charter, CharterEvent, RoleBlueprint

GEN_PREFIX = "GEN-"
DEFAULT_SEED = 7
# Customers drawn and written together. The demo's name generator slows down as a
# chunk's names run out of fresh combinations, so chunks stay moderate.
CHUNK_SIZE = 20_000
ORM_BATCH_SIZE = 2_000

# (label, model, external id letter, digits) in the order the tables are written
TABLES = (
    ("customers", Customer, "C", 7),
    ("orders", Order, "O", 9),
    ("invoices", Invoice, "I", 9),
    ("support tickets", SupportTicket, "T", 9),
    ("service activities", ServiceActivity, "A", 9),
    ("referrals", Referral, "R", 9),
    ("feedback", Feedback, "F", 9),
    ("charters", Charter, "", 0),
    ("charter events", CharterEvent, "", 0),
)
LABELS = tuple(label for label, *_ in TABLES)
# Written on a second connection when two can be used: about half of the work.
SIDE_TABLES = ("invoices", "service activities", "support tickets", "feedback")

_NULL = "\\N"  # NULL in COPY's text format
_ESCAPE = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_SPECIAL = re.compile(r"[\\\t\n\r]")
_NUMBERED = re.compile(r" \d+$")
_CENTS = np.array([f".{k:02d}" for k in range(100)], dtype=object)
_CLOCK = np.array([f" {m // 60:02d}:{m % 60:02d}:00+00" for m in range(1440)] + [""], dtype=object)


class DatasetError(Exception):
    """The data set could not be generated; the message says why."""


@dataclass
class DatasetResult:
    """What a run wrote (rows per table), what it created or deleted on the way, how
    long it took, and the history's first and last day."""

    customers: int = 0
    chunks: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # rows written per table
    reference: dict[str, int] = field(default_factory=dict)  # reference rows created
    deleted: dict[str, int] = field(default_factory=dict)  # earlier GEN- rows removed
    seconds: float = 0.0
    start: date | None = None
    end: date | None = None

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def generated_customers():
    return Customer.objects.filter(external_id__startswith=GEN_PREFIX)


# ----------------------------------------------------------------------- columns
#
# A table of a chunk is a dict of columns keyed by the model's attribute names. Each
# column renders itself either as COPY text (a list of strings) or as Python values for
# the ORM, from the same arrays.


@dataclass
class _Calendar:
    """Days and minutes counted from ``start``, as COPY text and as Python values."""

    start: date
    horizon: int
    now: datetime

    def __post_init__(self) -> None:
        days = [self.start + timedelta(days=k) for k in range(self.horizon + 400)]
        # index -1 (a missing day) is NULL
        self.day_text = np.array([d.isoformat() for d in days] + [_NULL], dtype=object)
        self.day_value = np.array([*days, None], dtype=object)
        self.midnight = datetime.combine(self.start, datetime.min.time(), tzinfo=UTC)


class _Column:
    def text(self, cal: _Calendar) -> list[str]:
        raise NotImplementedError

    def keys(self) -> np.ndarray:
        """The values other than NULL, for a column holding ids (distinct where cheap)."""
        raise DatasetError(f"{type(self).__name__} does not hold ids.")

    def values(self, cal: _Calendar) -> list:
        raise NotImplementedError


@dataclass
class _Ints(_Column):
    """Whole numbers; ``null`` marks NULLs. ``decimal`` gives Decimals to the ORM."""

    data: np.ndarray
    null: np.ndarray | None = None
    decimal: bool = False

    def text(self, cal: _Calendar) -> list[str]:
        out = list(map(str, self.data.tolist()))
        if self.null is not None:
            for k in np.flatnonzero(self.null).tolist():
                out[k] = _NULL
        return out

    def keys(self) -> np.ndarray:
        return self.data if self.null is None else self.data[~self.null]

    def values(self, cal: _Calendar) -> list:
        out = [Decimal(v) for v in self.data.tolist()] if self.decimal else self.data.tolist()
        if self.null is not None:
            for k in np.flatnonzero(self.null).tolist():
                out[k] = None
        return out


@dataclass
class _Choice(_Column):
    """``options[index]``; index -1 picks the last option. Options are strings, ints,
    None (NULL) or dicts (JSON)."""

    options: Sequence
    index: np.ndarray

    def text(self, cal: _Calendar) -> list[str]:
        rendered = np.array([_copy_text(o) for o in self.options], dtype=object)
        return rendered[self.index].tolist()

    def keys(self) -> np.ndarray:
        used = [self.options[k] for k in np.unique(self.index).tolist()]
        return np.array(sorted(v for v in used if v is not None), dtype=np.int64)

    def values(self, cal: _Calendar) -> list:
        return [self.options[k] for k in self.index.tolist()]


@dataclass
class _Strings(_Column):
    data: list[str]

    def text(self, cal: _Calendar) -> list[str]:
        if _SPECIAL.search("".join(self.data)) is None:
            return list(self.data)
        return [s.translate(_ESCAPE) for s in self.data]

    def values(self, cal: _Calendar) -> list:
        return list(self.data)


@dataclass
class _Const(_Column):
    value: object
    n: int

    def text(self, cal: _Calendar) -> list[str]:
        return [_copy_text(self.value)] * self.n

    def values(self, cal: _Calendar) -> list:
        return [self.value] * self.n


@dataclass
class _Days(_Column):
    """Days since the start; -1 is NULL."""

    data: np.ndarray

    def text(self, cal: _Calendar) -> list[str]:
        return cal.day_text[self.data].tolist()

    def values(self, cal: _Calendar) -> list:
        return cal.day_value[self.data].tolist()


@dataclass
class _Minutes(_Column):
    """Minutes since midnight (UTC) of the start day; -1 is NULL."""

    data: np.ndarray

    def text(self, cal: _Calendar) -> list[str]:
        known = self.data >= 0
        day = np.where(known, self.data // 1440, -1)
        clock = np.where(known, self.data % 1440, 1440)
        return list(map(operator.add, cal.day_text[day].tolist(), _CLOCK[clock].tolist()))

    def values(self, cal: _Calendar) -> list:
        return [cal.midnight + timedelta(minutes=m) if m >= 0 else None for m in self.data.tolist()]


@dataclass
class _Cents(_Column):
    """Money in whole cents, written as exact decimals."""

    data: np.ndarray

    def text(self, cal: _Calendar) -> list[str]:
        size = np.abs(self.data)
        whole = map(str, (size // 100).tolist())
        out = list(map(operator.add, whole, _CENTS[size % 100].tolist()))
        for k in np.flatnonzero(self.data < 0).tolist():
            out[k] = "-" + out[k]
        return out

    def values(self, cal: _Calendar) -> list:
        return [_money(c) for c in self.data.tolist()]


@dataclass
class _Bools(_Column):
    data: np.ndarray

    def text(self, cal: _Calendar) -> list[str]:
        return np.where(self.data, "t", "f").tolist()

    def values(self, cal: _Calendar) -> list:
        return self.data.tolist()


def _copy_text(value: object) -> str:
    if value is None:
        return _NULL
    if isinstance(value, dict):
        return json.dumps(value).translate(_ESCAPE)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_ESCAPE)


@dataclass
class _Table:
    label: str
    model: type[models.Model]
    count: int
    columns: dict[str, _Column]


# ------------------------------------------------------------------------ the chunks


class _UniqueNames:
    """Customer names never used before in the table, nor earlier in the run: a taken
    name gets the next free number, as the demo's name generator does within one plan."""

    def __init__(self, taken: Iterable[str]):
        self.used = set(taken)
        self.next: dict[str, int] = {}

    def claim(self, names: list[str]) -> list[str]:
        out = []
        for name in names:
            if name in self.used:
                base = _NUMBERED.sub("", name)
                k = self.next.get(base, 2)
                while f"{base} {k}" in self.used:
                    k += 1
                self.next[base] = k + 1
                name = f"{base} {k}"
            self.used.add(name)
            out.append(name)
        return out


@dataclass
class _Reference:
    """Ids of the rows every chunk points at, by the demo's indexes."""

    managers: list[int]  # by ACCOUNT_MANAGERS
    blueprints: list[int]  # by BLUEPRINTS
    types: list[int]  # by ACTIVITY_TYPES


@dataclass
class _Chunk:
    number: int
    plan: object
    names: list[str]
    counts: dict[str, int]


def _chunk_seed(seed: int, number: int) -> int:
    return int(np.random.SeedSequence([seed, number]).generate_state(1)[0])


def _draw(number: int, size: int, seed: int, end: date, names: _UniqueNames) -> _Chunk:
    plan = _plan(size, _chunk_seed(seed, number), end)
    charter_events = sum(len(c["steps"]) for c in plan.charters)
    n_orders = len(plan.orders["customer"])
    counts = {
        "customers": size,
        "orders": n_orders,
        "invoices": n_orders,
        "support tickets": len(plan.tickets["customer"]),
        "service activities": len(plan.activities["customer"]),
        "referrals": len(plan.referrals),
        "feedback": len(plan.feedback["customer"]),
        "charters": len(plan.charters),
        "charter events": charter_events,
    }
    return _Chunk(number, plan, names.claim(plan.customers["name"]), counts)


def _external_ids(letter: str, first: int, n: int, digits: int) -> list[str]:
    """``GEN-<letter><number>`` for the numbers first+1 … first+n."""
    return list(map(f"{GEN_PREFIX}{letter}{{:0{digits}d}}".format, range(first + 1, first + n + 1)))


def _tables(
    chunk: _Chunk, ids: dict[str, int], numbered: dict[str, int], ref: _Reference, now: datetime
) -> list[_Table]:
    """The chunk's rows as columns. ``ids``: the first primary key of each table minus
    one; ``numbered``: how many rows of each table earlier chunks numbered."""
    plan = chunk.plan
    c, o, t, a, f = plan.customers, plan.orders, plan.tickets, plan.activities, plan.feedback
    counts = chunk.counts

    def ext(label: str) -> _Strings:
        _, _, letter, digits = next(spec for spec in TABLES if spec[0] == label)
        return _Strings(_external_ids(letter, numbered[label], counts[label], digits))

    def pks(label: str) -> _Ints:
        return _Ints(ids[label] + 1 + np.arange(counts[label]))

    def customer_pk(index: np.ndarray) -> _Ints:
        return _Ints(ids["customers"] + 1 + index)

    managers = [*ref.managers, None]  # -1: no account manager
    n = counts["customers"]
    tables = [
        _Table(
            "customers",
            Customer,
            n,
            {
                "id": pks("customers"),
                "external_id": ext("customers"),
                "name": _Strings(chunk.names),
                "segment": _Choice(SEGMENTS, c["segment"]),
                "industry": _Choice([spec[0] for spec in INDUSTRIES], c["industry"]),
                "acquisition_channel": _Choice(CHANNELS, c["channel"]),
                "sales_rep": _Choice([*SALES_REPS, ""], c["rep"]),
                "acquired_on": _Days(c["acquired"]),
                "acquisition_cost": _Cents(c["acquisition_cost"]),
                "sales_bonus": _Cents(c["bonus"]),
                "account_manager_id": _Choice(managers, c["manager"]),
                "status": _Choice(
                    (Customer.Status.ACTIVE, Customer.Status.DORMANT),
                    (np.asarray(c["status"]) == Customer.Status.DORMANT).astype(np.int64),
                ),
                "released_on": _Const(None, n),
                "created_at": _Const(now, n),
                "updated_at": _Const(now, n),
            },
        )
    ]

    n_orders = counts["orders"]
    tables.append(
        _Table(
            "orders",
            Order,
            n_orders,
            {
                "id": pks("orders"),
                "external_id": ext("orders"),
                "customer_id": customer_pk(o["customer"]),
                "date": _Days(o["day"]),
                "revenue": _Cents(o["revenue"]),
                "cost": _Cents(o["cost"]),
                "category": _Choice(CATEGORIES, o["category"]),
                "kind": _Choice(Order.Kind.values, o["kind"]),  # first, repeat, upgrade, …
            },
        )
    )
    tables.append(
        _Table(
            "invoices",
            Invoice,
            n_orders,
            {
                "id": pks("invoices"),
                "external_id": ext("invoices"),
                "customer_id": customer_pk(o["customer"]),
                "order_id": _Ints(ids["orders"] + 1 + np.arange(n_orders)),
                "issued_on": _Days(o["day"]),
                "due_on": _Days(o["day"] + 30),
                "paid_on": _Days(plan.invoices["paid_day"]),
                "amount": _Cents(o["revenue"]),
            },
        )
    )

    complaint = t["complaint"]
    tables.append(
        _Table(
            "support tickets",
            SupportTicket,
            counts["support tickets"],
            {
                "id": pks("support tickets"),
                "external_id": ext("support tickets"),
                "customer_id": customer_pk(t["customer"]),
                "opened_at": _Minutes(t["opened"]),
                "first_response_at": _Minutes(t["response"]),
                "resolved_at": _Minutes(t["resolved"]),
                "priority": _Choice(TICKET_PRIORITIES, t["priority"]),
                "channel": _Choice(TICKET_CHANNELS, t["channel"]),
                "is_complaint": _Bools(complaint),
                "csat": _Ints(t["csat"], null=t["csat"] == 0),
                "subject": _Choice(
                    [*TICKET_SUBJECTS, *COMPLAINT_SUBJECTS],
                    t["subject"] + np.where(complaint, len(TICKET_SUBJECTS), 0),
                ),
            },
        )
    )

    n_acts = counts["service activities"]
    tables.append(
        _Table(
            "service activities",
            ServiceActivity,
            n_acts,
            {
                "id": pks("service activities"),
                "external_id": ext("service activities"),
                "customer_id": customer_pk(a["customer"]),
                "activity_type_id": _Choice(ref.types, a["type"]),
                "date": _Days(a["day"]),
                "quantity": _Ints(a["quantity"], decimal=True),
                "amount": _Cents(a["amount"]),
                "note": _Const("", n_acts),
            },
        )
    )

    r = plan.referrals
    n_refs = len(r)
    referrer = np.fromiter((x[0] for x in r), dtype=np.int64, count=n_refs)
    referred = np.fromiter((-1 if x[2] is None else x[2] for x in r), dtype=np.int64, count=n_refs)
    tables.append(
        _Table(
            "referrals",
            Referral,
            n_refs,
            {
                "id": pks("referrals"),
                "external_id": ext("referrals"),
                "referrer_id": customer_pk(referrer),
                "referred_id": _Ints(ids["customers"] + 1 + referred, null=referred < 0),
                "referred_name": _Strings([x[3] for x in r]),
                "date": _Days(np.fromiter((x[1] for x in r), dtype=np.int64, count=n_refs)),
            },
        )
    )

    tables.append(
        _Table(
            "feedback",
            Feedback,
            counts["feedback"],
            {
                "id": pks("feedback"),
                "external_id": ext("feedback"),
                "customer_id": customer_pk(f["customer"]),
                "date": _Days(f["day"]),
                "kind": _Choice(Feedback.Kind.values, f["kind"]),  # survey, nps, …
                "score": _Ints(f["score"], null=f["score"] < 0),
                "insight": _Choice([*INSIGHTS, ""], f["insight"]),
            },
        )
    )

    tables.extend(_charter_tables(plan.charters, ids, ref, managers))
    return tables


def _charter_tables(
    charters: list[dict], ids: dict[str, int], ref: _Reference, managers: list
) -> list[_Table]:
    """Charters and their events: one event per step the plan drew (created, proposed,
    agreed, superseded)."""
    n = len(charters)
    steps = [spec["steps"] for spec in charters]
    status = [spec["status"] for spec in charters]
    signed = [s in (Charter.Status.AGREED, Charter.Status.SUPERSEDED) for s in status]
    agreed_on = [
        next((day for state, day, _ in s if state == Charter.Status.AGREED), -1) for s in steps
    ]
    by = np.fromiter((spec["by"] for spec in charters), dtype=np.int64, count=n)
    version = np.fromiter((spec["version"] for spec in charters), dtype=np.int64, count=n)
    charter_pk = ids["charters"] + 1 + np.arange(n)
    charter = _Table(
        "charters",
        Charter,
        n,
        {
            "id": _Ints(charter_pk),
            "customer_id": _Ints(
                ids["customers"]
                + 1
                + np.fromiter((spec["customer"] for spec in charters), dtype=np.int64, count=n)
            ),
            "blueprint_id": _Choice(
                ref.blueprints,
                np.fromiter((spec["blueprint"] for spec in charters), dtype=np.int64, count=n),
            ),
            "version": _Ints(version),
            "status": _Strings(status),
            "target_overrides": _Const({}, n),
            "agreed_on": _Days(np.array(agreed_on, dtype=np.int64)),
            "agreed_by": _Strings(
                [spec["agreed_by"] if ok else "" for spec, ok in zip(charters, signed, strict=True)]
            ),
            "notes": _Strings(
                [
                    spec["notes"] if state != Charter.Status.DRAFT else ""
                    for spec, state in zip(charters, status, strict=True)
                ]
            ),
            "created_by_id": _Choice(managers, by),
            "created_at": _Minutes(
                np.array([s[0][1] * 1440 + s[0][2] for s in steps], dtype=np.int64)
            ),
            "updated_at": _Minutes(
                np.array([s[-1][1] * 1440 + s[-1][2] for s in steps], dtype=np.int64)
            ),
        },
    )

    per_charter = np.array([len(s) for s in steps], dtype=np.int64)
    top = int(version.max()) if n else 1
    owner = np.repeat(np.arange(n), per_charter)
    flat = [step for s in steps for step in s]
    to_status = [state for state, _, _ in flat]
    is_first = np.zeros(len(flat), dtype=bool)
    is_first[np.cumsum(per_charter) - per_charter] = True
    first = is_first.tolist()
    from_status = ["" if first[k] else to_status[k - 1] for k in range(len(flat))]
    events = _Table(
        "charter events",
        CharterEvent,
        len(flat),
        {
            "id": _Ints(ids["charter events"] + 1 + np.arange(len(flat))),
            "charter_id": _Ints(charter_pk[owner]),
            "at": _Minutes(
                np.array([day * 1440 + minute for _, day, minute in flat], dtype=np.int64)
            ),
            "by_id": _Choice(managers, by[owner]),
            "action": _Strings(["created" if first[k] else to_status[k] for k in range(len(flat))]),
            "from_status": _Strings(from_status),
            "to_status": _Strings(to_status),
            "detail": _Choice(
                [None, *({"version": v, "source": "generate_dataset"} for v in range(1, top + 1))],
                version[owner],
            ),
        },
    )
    return [charter, events]


# ------------------------------------------------------------------------ the writes


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _reserve(model: type[models.Model], n: int, floor: int = 0) -> int:
    """Reserve the primary keys base+1 … base+n of ``model``'s table, base being at
    least ``floor`` (the end of the blocks reserved before), and return base. Call
    inside a transaction. On PostgreSQL the table is locked against other writers while
    its sequence is moved past the block, so neither they nor later chunks take those
    ids; elsewhere the run's blocks follow one another from the highest id in use."""
    table, pk = _qn(model._meta.db_table), _qn(model._meta.pk.column)
    # Identifiers are the model's own table and column, quoted; values are parameters.
    highest = f"SELECT COALESCE(MAX({pk}), 0) FROM {table}"  # noqa: S608  # nosec B608 # quoted identifiers
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute(highest)  # safe: built from quoted names of our own
            base = int(cursor.fetchone()[0])
            sequence = [table, model._meta.pk.column]
            # safe: a constant statement, the values are parameters
            cursor.execute(
                "SELECT pg_sequence_last_value(pg_get_serial_sequence(%s, %s)::regclass)", sequence
            )
            base = max(base, int(cursor.fetchone()[0] or 0), floor)
            if n:
                # safe: a constant statement, the values are parameters
                cursor.execute(
                    "SELECT setval(pg_get_serial_sequence(%s, %s), %s)", [*sequence, base + n]
                )
            return base
        cursor.execute(highest)  # safe: built from quoted names of our own
        base = int(cursor.fetchone()[0])
        if connection.vendor == "sqlite":
            # AUTOINCREMENT never hands out an id below its counter.
            # safe: a constant statement, the values are parameters
            cursor.execute(
                "SELECT seq FROM sqlite_sequence WHERE name = %s", [model._meta.db_table]
            )
            row = cursor.fetchone()
            base = max(base, int(row[0]) if row else 0)
        return max(base, floor)


def _check_columns(model: type[models.Model], columns: dict[str, _Column]) -> None:
    """Every column that cannot be NULL is given; nothing else is."""
    known = {f.attname: f for f in model._meta.concrete_fields}
    unknown = set(columns) - set(known)
    missing = [
        name
        for name, f in known.items()
        if name not in columns and not f.null and not f.has_db_default()
    ]
    if unknown or missing:
        raise DatasetError(
            f"The generator does not match the {model.__name__} table: "
            f"unknown columns {sorted(unknown)}, missing columns {sorted(missing)}."
        )


@dataclass
class _Rendered:
    """One chunk ready to write: COPY statements with their data, or ORM objects."""

    number: int
    counts: dict[str, int]
    ids: dict[str, int]  # per table, the first primary key minus one
    # ids of rows outside the chunk (account managers, blueprints, activity types)
    references: dict[type[models.Model], set[int]] = field(default_factory=dict)
    copies: list[tuple[str, str, bytes]] = field(default_factory=list)  # label, COPY, data
    objects: list[tuple[type[models.Model], list, list[str]]] = field(default_factory=list)


def _render(
    chunk: _Chunk, ids: dict[str, int], tables: list[_Table], cal: _Calendar, copy: bool
) -> _Rendered:
    """Turn the columns into what the database takes in; no database access here."""
    out = _Rendered(chunk.number, chunk.counts, ids)
    for table in tables:
        _check_columns(table.model, table.columns)
        _check_keys(table, out)
        if copy:
            names = ", ".join(
                _qn(table.model._meta.get_field(name).column) for name in table.columns
            )
            # Identifiers come from the model's metadata; the rows travel as COPY data.
            sql = f"COPY {_qn(table.model._meta.db_table)} ({names}) FROM STDIN"
            if table.count:
                text = [column.text(cal) for column in table.columns.values()]
                data = ("\n".join(map("\t".join, zip(*text, strict=True))) + "\n").encode()
                out.copies.append((table.label, sql, data))
        else:
            values = [column.values(cal) for column in table.columns.values()]
            names = list(table.columns)
            objs = [
                table.model(**dict(zip(names, row, strict=True)))
                for row in zip(*values, strict=True)
            ]
            stamped = [
                f.attname
                for f in table.model._meta.concrete_fields
                if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
            ]
            out.objects.append((table.model, objs, stamped))
    return out


def _may_skip_key_triggers() -> bool:
    """Whether this session may switch off the per-row foreign key triggers: only a
    superuser may. The chunk's keys are checked per column instead (``_check_keys``,
    ``_lock_references``)."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('is_superuser')")  # safe: a constant statement
        return cursor.fetchone()[0] == "on"


def _check_keys(table: _Table, out: _Rendered) -> None:
    """Foreign keys, checked once per column instead of once per row: a key into a
    table of the chunk must lie in the ids reserved for the chunk's rows there; keys
    into other tables are collected for ``_lock_references``."""
    label_of = {model: label for label, model, *_ in TABLES}
    for name, column in table.columns.items():
        f = table.model._meta.get_field(name)
        if not (f.many_to_one and f.concrete):
            continue
        keys = column.keys()
        target = label_of.get(f.related_model)
        if target is None:
            out.references.setdefault(f.related_model, set()).update(keys.tolist())
            continue
        first, n = out.ids[target], out.counts[target]
        if len(keys) and (keys.min() <= first or keys.max() > first + n):
            raise DatasetError(
                f"Generated {table.label} point at {target} outside this chunk; "
                "nothing of this chunk was written."
            )


def _lock_references(rendered: _Rendered) -> None:
    """Lock the rows outside the chunk that it points at (account managers, blueprints,
    activity types) against deletion until the chunk commits, as the foreign key
    triggers would, and make sure they all exist."""
    with connection.cursor() as cursor:
        for model, keys in rendered.references.items():
            if not keys:
                continue
            meta = model._meta
            table, pk = _qn(meta.db_table), _qn(meta.pk.column)
            marks = ", ".join(["%s"] * len(keys))
            lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
            # Identifiers come from the model's metadata, quoted; values are parameters.
            sql = f"SELECT {pk} FROM {table} WHERE {pk} IN ({marks}){lock}"  # noqa: S608  # nosec B608 # quoted identifiers
            cursor.execute(sql, sorted(keys))
            missing = keys - {row[0] for row in cursor.fetchall()}
            if missing:
                raise DatasetError(
                    f"The {meta.verbose_name_plural} with ids {sorted(missing)[:5]} are gone; "
                    "nothing of this chunk was written."
                )


def _write(rendered: _Rendered, labels: Iterable[str], skip_key_triggers: bool) -> None:
    """Write the chunk's tables named in ``labels`` in one transaction (their ids are
    reserved already)."""
    labels = set(labels)
    with transaction.atomic():
        _lock_references(rendered)
        if skip_key_triggers:
            with connection.cursor() as cursor:
                # No per-row foreign key checks: the keys were checked per column.
                # safe: a constant statement
                cursor.execute("SET LOCAL session_replication_role = replica")
        for label, sql, data in rendered.copies:
            if label in labels:
                with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
                    copy.write(data)
        for model, objs, stamped in rendered.objects:
            if not objs:
                continue
            wanted = [[getattr(o, name) for name in stamped] for o in objs]
            model.objects.bulk_create(objs, batch_size=ORM_BATCH_SIZE)
            if stamped:
                # Inserting stamped auto-now fields with the time of the insert; put back
                # the generated times.
                for o, values in zip(objs, wanted, strict=True):
                    for name, value in zip(stamped, values, strict=True):
                        setattr(o, name, value)
                _restamp(model, stamped, objs)


class _Writer:
    """Writes chunks: on one connection, or split over two connections, each on its own
    core of the database server, when the key triggers are off (so neither half waits
    for the other's rows) and no outer transaction must hold the whole run."""

    def __init__(self, *, skip_key_triggers: bool, parallel: bool):
        self.skip = skip_key_triggers
        self.side = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataset-writer")
            if parallel
            else None
        )

    def write(self, rendered: _Rendered) -> None:
        if self.side is None:
            _write(rendered, LABELS, self.skip)
            return
        side = self.side.submit(_write, rendered, SIDE_TABLES, self.skip)
        try:
            _write(rendered, [label for label in LABELS if label not in SIDE_TABLES], self.skip)
        finally:
            error = side.exception()
        if error is not None:
            raise error

    def close(self) -> None:
        if self.side is not None:
            self.side.submit(_close_connection).result()
            self.side.shutdown()


def _close_connection() -> None:
    connection.close()  # this thread's own connection


# ------------------------------------------------------------------ deleting GEN- data


def _purge(model: type[models.Model], where: str, params: list, deleted: dict[str, int]):
    """Delete the rows of ``model``'s table that ``where`` selects, set-based, following
    the relations pointing at them as their ``on_delete`` says: cascade, set null, or
    refuse (protect / restrict)."""
    meta = model._meta
    table, key = _qn(meta.db_table), _qn(meta.pk.column)
    # Identifiers below come from the models' metadata, quoted; values are parameters.
    pks = f"SELECT {key} FROM {table} WHERE {where}"  # noqa: S608  # nosec B608 # quoted identifiers
    incoming = [
        rel
        for rel in meta.get_fields(include_hidden=True)
        if rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)
    ]
    cascades = [rel for rel in incoming if rel.on_delete is models.CASCADE]

    def points_at_sibling(rel) -> bool:
        return any(
            f.related_model is other.related_model
            for other in cascades
            if other is not rel
            for f in rel.related_model._meta.concrete_fields
            if f.is_relation and f.related_model is not model
        )

    # A child that points at a sibling goes first (invoices before their orders), so
    # the sibling's rows have nothing left to set to NULL.
    order = sorted(cascades, key=lambda rel: not points_at_sibling(rel))
    with connection.cursor() as cursor:
        for rel in order:
            _purge(rel.related_model, f"{_qn(rel.field.column)} IN ({pks})", params, deleted)
        for rel in incoming:
            child = rel.related_model._meta
            other, column = _qn(child.db_table), _qn(rel.field.column)
            if rel.on_delete is models.SET_NULL:
                sql = f"UPDATE {other} SET {column} = NULL WHERE {column} IN ({pks})"  # noqa: S608  # nosec B608 # quoted identifiers
                cursor.execute(sql, params)
            elif rel.on_delete in (models.PROTECT, models.RESTRICT):
                sql = f"SELECT COUNT(*) FROM {other} WHERE {column} IN ({pks})"  # noqa: S608  # nosec B608 # quoted identifiers
                cursor.execute(sql, params)
                if cursor.fetchone()[0]:
                    raise DatasetError(
                        f"Generated {meta.verbose_name_plural} are used by "
                        f"{child.verbose_name_plural}; remove those first."
                    )
            elif rel.on_delete is not models.CASCADE and rel.on_delete is not models.DO_NOTHING:
                raise DatasetError(
                    f"Cannot clear generated {meta.verbose_name_plural}: "
                    f"{child.verbose_name_plural} would need their {rel.field.name} reset."
                )
        cursor.execute(f"DELETE FROM {table} WHERE {where}", params)  # noqa: S608  # nosec B608 # quoted identifiers
        label = str(meta.verbose_name_plural)
        deleted[label] = deleted.get(label, 0) + cursor.rowcount


def dataset_delete() -> dict[str, int]:
    """Delete the GEN- customers and everything hanging off them (orders, invoices,
    tickets, activities, referrals, feedback, charters and their history, economics
    figures, cases …) with a few set-based statements, children before their parents.
    Rows per table deleted."""
    gen = generated_customers()
    deleted: dict[str, int] = {}
    with transaction.atomic():
        if _may_skip_key_triggers():
            with connection.cursor() as cursor:
                # Every table pointing at what goes is cleared first, following the
                # models' relations, so per-row foreign key checks would find nothing.
                # safe: a constant statement
                cursor.execute("SET LOCAL session_replication_role = replica")
        # Another customer's referral of a generated customer keeps the name once the
        # link goes.
        Referral.objects.filter(referred__in=gen, referred_name="").exclude(
            referrer__in=gen
        ).update(
            referred_name=Subquery(
                Customer.objects.filter(pk=OuterRef("referred_id")).values("name")
            )
        )
        meta = Customer._meta
        # The column comes from the model's metadata; the prefix is a parameter. Every
        # statement of the purge nests this condition once, so it takes this one parameter.
        where = f"{_qn(meta.get_field('external_id').column)} LIKE %s"
        _purge(Customer, where, [f"{GEN_PREFIX}%"], deleted)
    return {label: n for label, n in deleted.items() if n}


# ------------------------------------------------------------------------- the run


def _reference(start: date, end: date, users: dict[str, object]) -> tuple[_Reference, dict]:
    """The demo's activity types and blueprints (created when missing) and the account
    managers' ids."""
    created: dict[str, int] = {}

    def lookup() -> tuple[dict, dict]:
        blueprints = dict(
            RoleBlueprint.objects.filter(name__in=BLUEPRINT_NAMES).values_list("name", "pk")
        )
        types = dict(ActivityType.objects.filter(code__in=ACTIVITY_CODES).values_list("code", "pk"))
        return blueprints, types

    blueprints, types = lookup()
    if not blueprints and not types:
        with transaction.atomic():
            _, _, created = _write_reference(start, end, users.get("admin"))
        blueprints, types = lookup()
    missing = [n for n in BLUEPRINT_NAMES if n not in blueprints]
    missing += [c for c in ACTIVITY_CODES if c not in types]
    if missing:
        raise DatasetError(
            "Some of the demo's role blueprints and activity types exist and some do not "
            f"(missing: {', '.join(missing)}); run seed_demo to restore them first."
        )
    reference = _Reference(
        managers=[users[name].pk for name in ACCOUNT_MANAGERS],
        blueprints=[blueprints[name] for name in BLUEPRINT_NAMES],
        types=[types[code] for code in ACTIVITY_CODES],
    )
    return reference, created


def _prepare(
    chunk: _Chunk,
    ids: dict[str, int],
    numbered: dict[str, int],
    ref: _Reference,
    cal: _Calendar,
    copy: bool,
) -> _Rendered:
    rendered = _render(chunk, ids, _tables(chunk, ids, numbered, ref, cal.now), cal, copy)
    chunk.plan = None  # free the draws early
    return rendered


def _analyze() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for _, model, *_ in TABLES:
            # safe: a quoted table name of our own
            cursor.execute(f"ANALYZE {_qn(model._meta.db_table)}")


def dataset_generate(
    *,
    customers: int,
    seed: int = DEFAULT_SEED,
    end: date | None = None,
    replace: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> DatasetResult:
    """Generate ``customers`` customers with three years of history up to ``end``
    (default today) and write them. ``progress(message, customers done, customers)`` is
    called as the run goes. With ``replace``, earlier generated (GEN-) data is deleted
    first; without it, finding any is an error."""
    began = timer.perf_counter()
    if customers < 1:
        raise DatasetError("The data set needs at least one customer.")
    if chunk_size < 1:
        raise DatasetError("The chunk size must be at least one customer.")
    end = end or timezone.localdate()
    start = _years_before(end, HISTORY_YEARS)
    result = DatasetResult(customers=customers, start=start, end=end)

    def report(message: str, done: int) -> None:
        if progress is not None:
            progress(message, done, customers)

    existing = generated_customers().count()
    if existing and not replace:
        raise DatasetError(
            f"The database holds {existing:,} generated customers (external ids starting "
            f"with {GEN_PREFIX}), perhaps from a run that stopped half-way. Run again with "
            "--replace (replace=True) to delete them first."
        )
    if existing:
        report(f"deleting {existing:,} generated customers and their history", 0)
        result.deleted = dataset_delete()

    users = {user.username: user for user in demo_users_ensure()}
    ref, result.reference = _reference(start, end, users)
    names = _UniqueNames(Customer.objects.values_list("name", flat=True).iterator(10_000))
    cal = _Calendar(start, (end - start).days, timezone.now())
    copy = connection.vendor == "postgresql"
    skip_key_triggers = _may_skip_key_triggers()
    writer = _Writer(
        skip_key_triggers=skip_key_triggers,
        parallel=copy and skip_key_triggers and not connection.in_atomic_block,
    )
    sizes = [min(chunk_size, customers - lo) for lo in range(0, customers, chunk_size)]
    result.chunks = len(sizes)
    numbered = dict.fromkeys(LABELS, 0)
    reserved = dict.fromkeys(LABELS, 0)
    result.counts = dict.fromkeys(LABELS, 0)
    written = 0
    writing_began = timer.perf_counter()

    def write(rendered: _Rendered) -> None:
        nonlocal written
        writer.write(rendered)
        for label, n in rendered.counts.items():
            result.counts[label] += n
        written += rendered.counts["customers"]
        rows = result.rows
        rate = rows / max(timer.perf_counter() - writing_began, 1e-9)
        report(
            f"chunk {rendered.number + 1}/{len(sizes)}: {written:,}/{customers:,} customers, "
            f"{rows:,} rows, {rate:,.0f} rows/s",
            written,
        )

    # The worker draws and renders the next chunk while this thread writes the last one.
    # It never touches the database: ids are reserved here, in order.
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dataset")
    try:
        drawn = worker.submit(_draw, 0, sizes[0], seed, end, names)
        pending: _Rendered | None = None
        for k in range(len(sizes)):
            chunk = drawn.result()
            with transaction.atomic():
                ids = {
                    label: _reserve(model, chunk.counts[label], reserved[label])
                    for label, model, *_ in TABLES
                }
            reserved = {label: ids[label] + chunk.counts[label] for label in LABELS}
            rendering = worker.submit(_prepare, chunk, ids, dict(numbered), ref, cal, copy)
            for label in LABELS:
                numbered[label] += chunk.counts[label]
            if k + 1 < len(sizes):
                drawn = worker.submit(_draw, k + 1, sizes[k + 1], seed, end, names)
            if pending is not None:
                write(pending)
            pending = rendering.result()
        write(pending)
    except DatabaseError as exc:
        raise DatasetError(
            f"Writing the data set failed after {written:,} of {customers:,} customers "
            f"({exc}). Run again with --replace (replace=True) to start over."
        ) from exc
    finally:
        worker.shutdown(wait=True, cancel_futures=True)
        writer.close()

    report("analyzing the tables", written)
    _analyze()
    result.seconds = timer.perf_counter() - began
    return result
