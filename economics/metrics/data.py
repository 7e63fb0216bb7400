"""The thin layer between the ORM and the metric catalogue: it reads what is known as
of a date into the pandas frames ``MetricData`` holds. One query per table, whatever
the number of customers."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable

import pandas as pd
from django.conf import settings
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


def _frame(qs: QuerySet, columns: list[str], names: list[str] | None = None) -> pd.DataFrame:
    rows = list(qs.values_list(*columns))
    return pd.DataFrame.from_records(rows, columns=names or columns)


def _dates(frame: pd.DataFrame, *cols: str) -> None:
    for col in cols:
        frame[col] = pd.to_datetime(frame[col])


def _local_naive(frame: pd.DataFrame, tz: zoneinfo.ZoneInfo, *cols: str) -> None:
    for col in cols:
        values = pd.to_datetime(frame[col], utc=True)
        frame[col] = values.dt.tz_convert(tz).dt.tz_localize(None)


def load_metric_data(
    *,
    as_of: dt.date,
    customers: QuerySet[Customer] | None = None,
    customer_ids: Iterable[int] | None = None,
    calendar: BusinessCalendar | None = None,
    time_zone: str | None = None,
) -> MetricData:
    if calendar is None:
        from commitments.selectors import business_calendar

        calendar = business_calendar()
    tz = zoneinfo.ZoneInfo(time_zone or settings.TIME_ZONE)
    cust_qs = customers if customers is not None else Customer.objects.all()
    if customer_ids is not None:
        cust_qs = cust_qs.filter(pk__in=list(customer_ids))
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time.min, tzinfo=tz)

    cust = _frame(
        cust_qs.order_by("pk"),
        ["pk", "acquired_on", "account_manager_id", "acquisition_cost", "sales_bonus",
         "segment", "acquisition_channel", "sales_rep", "status"],
        ["id", "acquired_on", "account_manager_id", "acquisition_cost", "sales_bonus",
         "segment", "acquisition_channel", "sales_rep", "status"],
    )  # fmt: skip
    cust["has_account_manager"] = cust["account_manager_id"].notna()
    _dates(cust, "acquired_on")
    cust = cust.set_index("id")
    ids = cust_qs.values("pk")

    orders = _frame(
        Order.objects.filter(customer_id__in=ids, date__lte=as_of),
        ["customer_id", "date", "revenue", "cost", "kind", "category"],
    )
    _dates(orders, "date")
    orders[["revenue", "cost"]] = orders[["revenue", "cost"]].astype("float64")

    invoices = _frame(
        Invoice.objects.filter(customer_id__in=ids, issued_on__lte=as_of),
        ["customer_id", "issued_on", "due_on", "paid_on", "amount"],
    )
    invoices.loc[invoices["paid_on"].notna() & (invoices["paid_on"] > as_of), "paid_on"] = None
    _dates(invoices, "issued_on", "due_on", "paid_on")
    invoices["amount"] = invoices["amount"].astype("float64")

    tickets = _frame(
        SupportTicket.objects.filter(customer_id__in=ids, opened_at__lt=end),
        [
            "customer_id",
            "opened_at",
            "first_response_at",
            "resolved_at",
            "channel",
            "is_complaint",
            "csat",
        ],
    )
    # What happened after the as-of date is not known yet.
    for col in ("first_response_at", "resolved_at"):
        tickets.loc[tickets[col].notna() & (tickets[col] >= end), col] = None
    _local_naive(tickets, tz, "opened_at", "first_response_at", "resolved_at")
    tickets["is_complaint"] = tickets["is_complaint"].astype(bool)
    tickets["csat"] = tickets["csat"].astype("float64")

    activities = _frame(
        ServiceActivity.objects.filter(customer_id__in=ids, date__lte=as_of),
        ["customer_id", "date", "activity_type__kind", "quantity", "activity_type_id", "amount"],
        ["customer_id", "date", "kind", "quantity", "activity_type_id", "amount"],
    )
    _dates(activities, "date")
    activities["quantity"] = activities["quantity"].astype("float64")

    referrals = _frame(
        Referral.objects.filter(referrer_id__in=ids, date__lte=as_of),
        ["referrer_id", "date"],
        ["customer_id", "date"],
    )
    _dates(referrals, "date")

    feedback = _frame(
        Feedback.objects.filter(customer_id__in=ids, date__lte=as_of),
        ["customer_id", "date", "score", "insight"],
    )
    _dates(feedback, "date")
    feedback["score"] = feedback["score"].astype("float64")
    feedback["has_insight"] = feedback["insight"].fillna("").str.strip() != ""
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
