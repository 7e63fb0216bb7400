"""The thin layer between the database and the metric catalogue: it reads what is known
as of a date into the pandas frames ``MetricData`` holds. One query per table, whatever
the number of customers.

On PostgreSQL the rows travel as CSV text built by the server, a few thousand customers'
rows to a message (``string_agg``), and pandas' C parser reads them as they arrive: at
ten million orders this is several times faster than one Python tuple per row through
the ORM, and only a few messages are held at a time. On other databases the ORM reads
them. Both give the same frames (a test compares them).

Text with a handful of distinct values (an order's kind, a ticket's channel) becomes a
pandas ``category``: one byte a row instead of a string."""

from __future__ import annotations

import datetime as dt
import io
import queue
import threading
import zoneinfo
from collections.abc import Iterable, Iterator
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
from .memory import release_freed_memory

# Column types: how a value travels and what it becomes in the frame. CATEGORY: text
# with few distinct values, kept as a pandas category; ID: a key that is never missing
# (a customer's, an activity type's) in the history tables, int32 while the ids fit.
INT, FLOAT, DATE, TIMESTAMP, BOOL, TEXT = "int", "float", "date", "timestamp", "bool", "text"
CATEGORY, ID = "category", "id"
CUSTOMERS_PER_MESSAGE = 2048
PARALLEL_READS = 2
TEXTS_AHEAD = 4  # messages read ahead of the parser, per table
SECONDS_PER_DAY = 86400


def _sql_expression(column: str, kind: str, nullable: bool = True) -> str:
    """The CSV field of one column of the subquery ``q`` (columns named c0, c1, ...): an
    empty field for NULL (``concat_ws`` would drop the field altogether). A column that
    is never NULL goes as it is (``concat_ws`` writes any type as text): half the
    server's work on ten million rows is these wrappers."""
    if not nullable:
        return _sql_value(column, kind)
    return f"coalesce(({_sql_value(column, kind)})::text, '')"


def _nullable(model, lookup: str) -> bool:
    """Whether an ORM lookup (``customer_id``, ``activity_type__kind``) can give NULL:
    its field allows it, or a relation on the way does (an outer join)."""
    opts = model._meta
    parts = lookup.split("__")
    for k, part in enumerate(parts):
        field = opts.pk if part == "pk" else opts.get_field(part)
        if field.null:
            return True
        if k < len(parts) - 1:
            opts = field.related_model._meta
    return False


def _sql_value(column: str, kind: str) -> str:
    if kind == DATE:
        return f"({column} - DATE '1970-01-01')"  # days since the epoch; NULL stays empty
    if kind == TIMESTAMP:
        return f"extract(epoch from {column})"
    if kind == BOOL:
        return f"{column}::int"
    if kind in (TEXT, CATEGORY):  # quoted: a comma, a quote or a line break stays in its field
        return f"'\"' || replace({column}, '\"', '\"\"') || '\"'"
    return column


def _days_to_dates(col: pd.Series) -> pd.Series:
    """Days since the epoch (NaN for none) as datetime64[s]."""
    days = col.to_numpy()
    missing = np.isnan(days) if days.dtype.kind == "f" else np.zeros(len(days), dtype=bool)
    seconds = np.where(missing, 0, days).astype(np.int64) * SECONDS_PER_DAY
    dates = seconds.view("datetime64[s]")
    dates[missing] = np.datetime64("NaT")
    return pd.Series(dates, index=col.index)


def _category(col: pd.Series) -> pd.Series:
    """Text as a category with its categories sorted, however it was read."""
    if not isinstance(col.dtype, pd.CategoricalDtype):
        col = col.fillna("").astype(str).astype("category")
    categories = col.cat.categories
    if not categories.is_monotonic_increasing:
        col = col.cat.reorder_categories(categories.sort_values())
    return col


def _typed(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Values as the catalogue reads them: dates as datetime64, timestamps UTC-aware,
    numbers as float64 (ids and counts as int64, ``ID`` keys as int32 while they fit),
    text as str or category."""
    for name, kind in kinds.items():
        col = frame[name]
        if kind == DATE:
            if col.dtype.kind in "iuf":
                frame[name] = _days_to_dates(col)
            else:
                frame[name] = pd.to_datetime(col).astype("datetime64[s]")
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
        elif kind == ID:
            ids = col.to_numpy(dtype="int64")
            fits = not len(ids) or (ids.min() >= 0 and ids.max() <= np.iinfo(np.int32).max)
            frame[name] = ids.astype(np.int32) if fits else ids
        elif kind == TEXT:
            frame[name] = col.fillna("").astype(str)
        elif kind == CATEGORY:
            frame[name] = _category(col)
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


def _texts(conn, sql: str, params, ranges: list[tuple]) -> Iterator[str]:
    """The text of each range of customers, one statement at a time, as they are
    asked for (empty ranges give none)."""
    with conn.cursor() as cursor:
        for lo, hi in ranges:
            cursor.execute(sql, [*params, lo, hi])  # safe: our aliases, the ORM's SQL, parameters
            text = cursor.fetchone()[0]
            if text:
                yield text


def _texts_in_parallel(sql: str, params, ranges: list[tuple]) -> Iterator[str]:
    """The texts of the ranges in the order they arrive, the server building them on
    ``PARALLEL_READS`` connections at once; at most ``TEXTS_AHEAD`` of them wait for
    the parser. A failure on either connection is raised here."""
    waiting: queue.Queue = queue.Queue(maxsize=TEXTS_AHEAD)
    stop = threading.Event()
    done = object()

    def put(item) -> None:
        while not stop.is_set():
            try:
                waiting.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def fetch(some: list[tuple]) -> None:
        try:
            for text in _texts(connections["default"], sql, params, some):
                put(text)
                if stop.is_set():
                    break
        except BaseException as error:  # handed to the reading thread
            put(error)
        finally:
            connections.close_all()  # this thread's own connection
            put(done)

    threads = [
        threading.Thread(target=fetch, args=(ranges[k::PARALLEL_READS],), daemon=True)
        for k in range(PARALLEL_READS)
    ]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            item = waiting.get()
            if item is done:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()


class _Stream(io.RawIOBase):
    """Texts as one stream of bytes for the CSV parser, a line break after each; a
    text is let go as soon as it is read."""

    def __init__(self, texts: Iterator[str]):
        self._texts = texts
        self._chunk = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not len(self._chunk):
            text = next(self._texts, None)
            if text is None:
                return 0
            self._chunk = memoryview((text + "\n").encode())
        n = min(len(buffer), len(self._chunk))
        buffer[:n] = self._chunk[:n]
        self._chunk = self._chunk[n:]
        return n


def _read_postgresql(
    qs: QuerySet, lookups: list[str], names: list[str], kinds, ranges: list[tuple] | None
) -> pd.DataFrame:
    """The queryset's rows as server-built CSV, parsed by pandas as they arrive. The
    first column is a customer id: one statement per range of customers, each answering
    with one text of a few thousand customers' rows (an index range scan and a plain
    aggregate, so the server holds one such text at a time, however large the
    tables)."""
    # No ORDER BY: rows come in no particular order, and a sort per range costs.
    inner, params = qs.order_by().values_list(*lookups).query.sql_with_params()
    aliases = [f"c{k}" for k in range(len(names))]
    fields = ", ".join(
        _sql_expression(alias, kinds[name], _nullable(qs.model, lookup))
        for alias, name, lookup in zip(aliases, names, lookups, strict=True)
    )
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
        texts = _texts(connection, sql, params, ranges)
    else:  # the server builds the texts on two connections while pandas parses
        texts = _texts_in_parallel(sql, params, ranges)
    numeric = [n for n in names if kinds[n] not in (TEXT, CATEGORY)]
    dtypes = {n: "string" for n in names if kinds[n] == TEXT}
    dtypes |= {n: "category" for n in names if kinds[n] == CATEGORY}
    return pd.read_csv(
        io.BufferedReader(_Stream(texts), buffer_size=1 << 20),
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
                [("customer_id", "customer_id", ID), ("date", "date", DATE),
                 ("revenue", "revenue", FLOAT), ("cost", "cost", FLOAT),
                 ("kind", "kind", CATEGORY), ("category", "category", CATEGORY)],
            ),
            "invoices": (
                Invoice.objects.filter(**mine, issued_on__lte=as_of),
                [("customer_id", "customer_id", ID), ("issued_on", "issued_on", DATE),
                 ("due_on", "due_on", DATE), ("paid_on", "paid_on", DATE),
                 ("amount", "amount", FLOAT)],
            ),
            "tickets": (
                SupportTicket.objects.filter(**mine, opened_at__lt=end),
                [("customer_id", "customer_id", ID), ("opened_at", "opened_at", TIMESTAMP),
                 ("first_response_at", "first_response_at", TIMESTAMP),
                 ("resolved_at", "resolved_at", TIMESTAMP), ("channel", "channel", CATEGORY),
                 ("is_complaint", "is_complaint", BOOL), ("csat", "csat", FLOAT)],
            ),
            "activities": (
                ServiceActivity.objects.filter(**mine, date__lte=as_of),
                [("customer_id", "customer_id", ID), ("date", "date", DATE),
                 ("activity_type__kind", "kind", CATEGORY), ("quantity", "quantity", FLOAT),
                 ("activity_type_id", "activity_type_id", ID), ("amount", "amount", FLOAT)],
            ),
            "referrals": (
                Referral.objects.filter(**referrer, date__lte=as_of),
                [("referrer_id", "customer_id", ID), ("date", "date", DATE)],
            ),
            "feedback": (
                Feedback.objects.filter(**mine, date__lte=as_of),
                [("customer_id", "customer_id", ID), ("date", "date", DATE),
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
    release_freed_memory()  # the parser's working memory

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
