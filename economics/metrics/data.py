"""The thin layer between the database and the metric catalogue: it reads what is known
as of a date into the pandas frames ``MetricData`` holds. One query per table, whatever
the number of customers.

On PostgreSQL the rows travel as CSV text built by the server, a few thousand customers'
rows to a message (``string_agg``), and pandas' C parser reads them: at ten million
orders this is several times faster than one Python tuple per row through the ORM. On
other databases the ORM reads them. Both give the same frames (a test compares them)."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from django.conf import settings
from django.db import connection, connections
from django.db.models import QuerySet

from customers.models import (
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)

from .calendar import BusinessCalendar
from .catalogue import MetricData

# Column types: how a value travels and what it becomes in the frame.
INT, FLOAT, DATE, TIMESTAMP, BOOL, TEXT = "int", "float", "date", "timestamp", "bool", "text"
CUSTOMERS_PER_MESSAGE = 2048
PARALLEL_READS = 2


def _sql_expression(column: str, kind: str) -> str:
    """The CSV field of one column of the subquery ``q`` (columns named c0, c1, ...): an
    empty field for NULL (``concat_ws`` would drop the field altogether)."""
    return f"coalesce(({_sql_value(column, kind)})::text, '')"


def _sql_value(column: str, kind: str) -> str:
    if kind == DATE:
        return f"({column} - DATE '1970-01-01')"  # days since the epoch; NULL stays empty
    if kind == TIMESTAMP:
        return f"extract(epoch from {column})"
    if kind == BOOL:
        return f"{column}::int"
    if kind == TEXT:  # quoted, so a comma, a quote or a line break stays in its field
        return f"'\"' || replace({column}, '\"', '\"\"') || '\"'"
    return column


def _typed(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Values as the catalogue reads them: dates as datetime64, timestamps UTC-aware,
    numbers as float64 (ids and counts as int64), text as str."""
    for name, kind in kinds.items():
        col = frame[name]
        if kind == DATE:
            if col.dtype.kind in "iuf":
                frame[name] = pd.to_datetime(col, unit="D")
            else:
                frame[name] = pd.to_datetime(col)
            frame[name] = frame[name].astype("datetime64[s]")
        elif kind == TIMESTAMP:
            if col.dtype.kind in "iuf":
                frame[name] = pd.to_datetime(col, unit="s", utc=True)
            else:
                frame[name] = pd.to_datetime(col, utc=True)
            frame[name] = frame[name].astype("datetime64[us, UTC]")
        elif kind == BOOL:
            frame[name] = col.astype(bool)
        elif kind == FLOAT:
            frame[name] = col.astype("float64")
        elif kind == INT:
            frame[name] = col.astype("float64") if col.isna().any() else col.astype("int64")
        elif kind == TEXT:
            frame[name] = col.fillna("").astype(str)
    return frame


def _read_orm(qs: QuerySet, lookups: list[str], names: list[str]) -> pd.DataFrame:
    rows = list(qs.values_list(*lookups))
    return pd.DataFrame.from_records(rows, columns=names)


def id_ranges(ids, per_range: int = CUSTOMERS_PER_MESSAGE) -> list[tuple[int, int]]:
    """Inclusive (first, last) customer ids of consecutive blocks of ``per_range`` ids."""
    ids = np.sort(np.asarray(ids, dtype=np.int64))
    return [
        (int(ids[k]), int(ids[min(k + per_range, len(ids)) - 1]))
        for k in range(0, len(ids), per_range)
    ]


def _texts(conn, sql: str, params, ranges: list[tuple]) -> list[str]:
    """The text of each range of customers (empty ranges give none)."""
    parts = []
    with conn.cursor() as cursor:
        for lo, hi in ranges:
            cursor.execute(sql, [*params, lo, hi])  # safe: our aliases, the ORM's SQL, parameters
            text = cursor.fetchone()[0]
            if text:
                parts.append(text)
    return parts


def _read_postgresql(
    qs: QuerySet, lookups: list[str], names: list[str], kinds, ranges: list[tuple] | None
) -> pd.DataFrame:
    """The queryset's rows as server-built CSV, parsed by pandas. The first column is a
    customer id: one statement per range of customers, each answering with one text of
    a few thousand customers' rows (an index range scan and a plain aggregate, so the
    server holds one such text at a time, however large the tables)."""
    # No ORDER BY: rows come in no particular order, and a sort per range costs.
    inner, params = qs.order_by().values_list(*lookups).query.sql_with_params()
    aliases = [f"c{k}" for k in range(len(names))]
    fields = ", ".join(_sql_expression(a, kinds[n]) for a, n in zip(aliases, names, strict=True))
    subquery = f"({inner}) AS q({', '.join(aliases)})"
    with connection.cursor() as cursor:
        if ranges is None:
            # Identifiers are our own aliases; the ORM's values are parameters.
            cursor.execute(f"SELECT min(c0), max(c0) FROM {subquery}", params)  # noqa: S608  # nosec B608 # safe: our aliases, the ORM's SQL and parameters
            low, high = cursor.fetchone()
            ranges = [] if low is None else [
                (lo, min(lo + CUSTOMERS_PER_MESSAGE - 1, high))
                for lo in range(low, high + 1, CUSTOMERS_PER_MESSAGE)
            ]  # fmt: skip
    sql = (
        f"SELECT string_agg(concat_ws(',', {fields}), E'\\n') FROM {subquery} "  # noqa: S608  # nosec B608 # our own aliases; values are parameters
        "WHERE c0 BETWEEN %s AND %s"
    )
    if connection.in_atomic_block or len(ranges) < 2 * PARALLEL_READS:
        parts = _texts(connection, sql, params, ranges)
    else:  # the server builds the texts of both halves at once, on two connections
        halves = [ranges[k::PARALLEL_READS] for k in range(PARALLEL_READS)]

        def fetch(some):
            try:
                return _texts(connections["default"], sql, params, some)
            finally:
                connections.close_all()  # this thread's own connection

        with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
            parts = [text for texts in pool.map(fetch, halves) for text in texts]
    numeric = [n for n in names if kinds[n] != TEXT]
    dtypes = {n: "string" for n in names if kinds[n] == TEXT}
    return pd.read_csv(
        io.BytesIO("\n".join(parts).encode()),
        header=None,
        names=names,
        dtype=dtypes,
        keep_default_na=False,
        na_values={n: [""] for n in numeric},
        engine="c",
    )


def _read(
    qs: QuerySet, columns: list[tuple[str, str, str]], bulk: bool, ranges: list | None = None
) -> pd.DataFrame:
    """``columns``: (ORM lookup, name in the frame, kind); the first is a customer id.
    ``ranges``: blocks of customer ids to read the rows of, in bulk reads."""
    lookups = [c[0] for c in columns]
    names = [c[1] for c in columns]
    kinds = {c[1]: c[2] for c in columns}
    if bulk:
        frame = _read_postgresql(qs, lookups, names, kinds, ranges)
    else:
        frame = _read_orm(qs, lookups, names)
    return _typed(frame, kinds)


def _read_all(
    specs: dict, bulk: bool, ranges: list | None, tables: set[str] | None = None
) -> dict[str, pd.DataFrame]:
    """Read several tables. Bulk reads outside a transaction go two at a time, each on
    its own connection, so the server builds one table's text while this process parses
    another's; inside a transaction (whose rows other connections cannot see) they go
    one after the other on this connection. Tables not in ``tables`` come back empty."""
    if tables is not None:
        empty = {n: (qs.none(), cols) for n, (qs, cols) in specs.items() if n not in tables}
        frames = {n: _read(qs, cols, False) for n, (qs, cols) in empty.items()}
        wanted = {n: spec for n, spec in specs.items() if n in tables}
        return {**frames, **_read_all(wanted, bulk, ranges)}
    if not bulk or connection.in_atomic_block or len(specs) < 2:
        return {name: _read(qs, columns, bulk, ranges) for name, (qs, columns) in specs.items()}

    def read(item):
        name, (qs, columns) = item
        try:
            return name, _read(qs, columns, bulk, ranges)
        finally:
            connections.close_all()  # this thread's own connection

    with ThreadPoolExecutor(max_workers=PARALLEL_READS) as pool:
        return dict(pool.map(read, specs.items()))


def _between(field: str, id_range: tuple[int, int]) -> dict:
    """A filter on a foreign key's id between two ids, inclusive."""
    return {f"{field}__gte": id_range[0], f"{field}__lte": id_range[1]}


def read_frame(
    qs: QuerySet, columns: list[tuple[str, str, str]], customer_ids=None
) -> pd.DataFrame:
    """A queryset's rows as a typed frame, in bulk on PostgreSQL; ``columns`` as
    ``_read`` takes them, the first an integer key (rows come in no particular order).
    ``customer_ids``: when the first column is a customer id, the customers whose rows
    are wanted (saves finding the range of ids)."""
    bulk = connection.vendor == "postgresql"
    ranges = id_ranges(customer_ids) if bulk and customer_ids is not None else None
    return _read(qs, columns, bulk=bulk, ranges=ranges)


def _local_naive(frame: pd.DataFrame, tz: zoneinfo.ZoneInfo, *cols: str) -> None:
    for col in cols:
        frame[col] = frame[col].dt.tz_convert(tz).dt.tz_localize(None)


def load_metric_data(
    *,
    as_of: dt.date,
    customers: QuerySet[Customer] | None = None,
    customer_ids: Iterable[int] | None = None,
    calendar: BusinessCalendar | None = None,
    time_zone: str | None = None,
    bulk: bool | None = None,
    id_range: tuple[int, int] | None = None,
    tables: Iterable[str] | None = None,
) -> MetricData:
    """``bulk``: read through server-built CSV (default: on PostgreSQL). ``id_range``:
    only the customers with ids in (first, last), inclusive. ``tables``: read only these
    of the history tables (orders, invoices, tickets, activities, referrals, feedback);
    the others are empty."""
    if bulk is None:
        bulk = connection.vendor == "postgresql"
    if calendar is None:
        from commitments.selectors import business_calendar

        calendar = business_calendar()
    tz = zoneinfo.ZoneInfo(time_zone or settings.TIME_ZONE)
    cust_qs = customers if customers is not None else Customer.objects.all()
    if customer_ids is not None:
        cust_qs = cust_qs.filter(pk__in=list(customer_ids))
    if id_range is not None:
        cust_qs = cust_qs.filter(pk__range=id_range)
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    as_of_ts = pd.Timestamp(as_of)

    cust = _read(
        cust_qs.order_by("pk"),
        [("pk", "id", INT), ("acquired_on", "acquired_on", DATE),
         ("account_manager_id", "account_manager_id", INT),
         ("acquisition_cost", "acquisition_cost", FLOAT), ("sales_bonus", "sales_bonus", FLOAT),
         ("segment", "segment", TEXT), ("acquisition_channel", "acquisition_channel", TEXT),
         ("sales_rep", "sales_rep", TEXT), ("status", "status", TEXT)],
        bulk,
    )  # fmt: skip
    cust["has_account_manager"] = cust["account_manager_id"].notna()
    cust = cust.sort_values("id", kind="stable").set_index("id")
    # Reading everyone, no table needs joining to the customers: the ranges cover them.
    everyone = customers is None and customer_ids is None
    ids = cust_qs.values("pk")
    mine = {} if everyone else {"customer_id__in": ids}
    if everyone and id_range is not None:  # a range of ids: no join needed either
        mine = _between("customer_id", id_range)
    ranges = id_ranges(cust.index.to_numpy()) if bulk else None

    referrer = {} if everyone else {"referrer_id__in": ids}
    if everyone and id_range is not None:
        referrer = _between("referrer_id", id_range)
    frames = _read_all(
        {
            "orders": (
                Order.objects.filter(**mine, date__lte=as_of),
                [("customer_id", "customer_id", INT), ("date", "date", DATE),
                 ("revenue", "revenue", FLOAT), ("cost", "cost", FLOAT), ("kind", "kind", TEXT),
                 ("category", "category", TEXT)],
            ),
            "invoices": (
                Invoice.objects.filter(**mine, issued_on__lte=as_of),
                [("customer_id", "customer_id", INT), ("issued_on", "issued_on", DATE),
                 ("due_on", "due_on", DATE), ("paid_on", "paid_on", DATE),
                 ("amount", "amount", FLOAT)],
            ),
            "tickets": (
                SupportTicket.objects.filter(**mine, opened_at__lt=end),
                [("customer_id", "customer_id", INT), ("opened_at", "opened_at", TIMESTAMP),
                 ("first_response_at", "first_response_at", TIMESTAMP),
                 ("resolved_at", "resolved_at", TIMESTAMP), ("channel", "channel", TEXT),
                 ("is_complaint", "is_complaint", BOOL), ("csat", "csat", FLOAT)],
            ),
            "activities": (
                ServiceActivity.objects.filter(**mine, date__lte=as_of),
                [("customer_id", "customer_id", INT), ("date", "date", DATE),
                 ("activity_type__kind", "kind", TEXT), ("quantity", "quantity", FLOAT),
                 ("activity_type_id", "activity_type_id", INT), ("amount", "amount", FLOAT)],
            ),
            "referrals": (
                Referral.objects.filter(**referrer, date__lte=as_of),
                [("referrer_id", "customer_id", INT), ("date", "date", DATE)],
            ),
            "feedback": (
                Feedback.objects.filter(**mine, date__lte=as_of),
                [("customer_id", "customer_id", INT), ("date", "date", DATE),
                 ("score", "score", FLOAT), ("insight", "insight", TEXT)],
            ),
        },
        bulk,
        ranges,
        tables=None if tables is None else set(tables),
    )  # fmt: skip
    orders, invoices, tickets = frames["orders"], frames["invoices"], frames["tickets"]
    activities, referrals, feedback = (
        frames["activities"], frames["referrals"], frames["feedback"]
    )  # fmt: skip
    # What happened after the as-of date is not known yet.
    invoices.loc[invoices["paid_on"] > as_of_ts, "paid_on"] = pd.NaT
    end_utc = pd.Timestamp(end).tz_convert("UTC")
    for col in ("first_response_at", "resolved_at"):
        tickets.loc[tickets[col] >= end_utc, col] = pd.NaT
    _local_naive(tickets, tz, "opened_at", "first_response_at", "resolved_at")
    feedback["has_insight"] = feedback["insight"].str.strip() != ""
    feedback = feedback.drop(columns=["insight"])

    return MetricData(
        as_of=as_of,
        customers=cust,
        orders=orders,
        invoices=invoices,
        tickets=tickets,
        activities=activities,
        referrals=referrals,
        feedback=feedback,
        calendar=calendar,
    )
