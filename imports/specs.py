"""What each kind of import file holds: one spec per kind, in one place.

A spec names the columns a file may have, which are required, their type, limits and
defaults, the references they make to other records and the rules that tie columns
of one row together. Validation, the writer, the templates, the REST API and
``docs/imports.md`` all read these specs; nothing else describes a file.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import models

from accounts.models import User
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


class Kind(models.TextChoices):
    CUSTOMERS = "customers", "Customers"
    ORDERS = "orders", "Orders"
    INVOICES = "invoices", "Invoices"
    TICKETS = "tickets", "Support tickets"
    ACTIVITIES = "activities", "Service activities"
    REFERRALS = "referrals", "Referrals"
    FEEDBACK = "feedback", "Feedback"


class Type(enum.StrEnum):
    TEXT = "text"
    DATE = "date"
    DATETIME = "datetime"
    MONEY = "money"
    DECIMAL = "decimal"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CHOICE = "choice"
    REFERENCE = "reference"


@dataclass(frozen=True)
class Ref:
    """A reference to another record by its natural key, e.g. an order's customer by
    the customer's ``external_id``."""

    model: type[models.Model]
    key: str
    label: str
    # (foreign key on the referenced model, column of this file referring to the same
    # target): the referenced record must belong to the same one, e.g. an invoice's
    # order must be an order of the invoice's customer.
    same_as: tuple[str, str] | None = None


@dataclass(frozen=True)
class Column:
    name: str
    type: Type
    help: str
    example: str = ""
    required: bool = False
    field: str = ""  # model field; defaults to ``name``
    max_length: int | None = None
    choices: type[models.TextChoices] | None = None
    minimum: Decimal | None = None
    exclusive_minimum: bool = False
    maximum: Decimal | None = None
    # The value an empty cell (or a column left out, for a new record) stands for;
    # None means NULL.
    default: str | None = None
    ref: Ref | None = None
    max_digits: int = 14
    decimal_places: int = 2

    @property
    def model_field(self) -> str:
        return self.field or self.name


@dataclass(frozen=True)
class DateOrder:
    """``later`` must not be before ``earlier`` (when both are given)."""

    later: str
    earlier: str

    def describe(self) -> str:
        return f"`{self.later}` must not be before `{self.earlier}`"


@dataclass(frozen=True)
class NotSame:
    """Two reference columns must not name the same record."""

    first: str
    second: str
    reason: str

    def describe(self) -> str:
        return f"`{self.first}` and `{self.second}` must differ ({self.reason})"


@dataclass(frozen=True)
class OneOf:
    """At least one of the columns must be filled in."""

    columns: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + " or ".join(f"`{c}`" for c in self.columns) + " is required"


@dataclass(frozen=True)
class IfAndOnlyIf:
    """``column`` is filled in exactly when ``when`` equals ``value``. A file with
    ``column`` needs ``when``; one with ``when`` alone leaves ``column`` empty."""

    column: str
    when: str
    value: str

    def describe(self) -> str:
        return (
            f"`{self.column}` is given exactly when `{self.when}` is `{self.value}` "
            f"(a file with `{self.column}` also has `{self.when}`)"
        )


Rule = DateOrder | NotSame | OneOf | IfAndOnlyIf


@dataclass(frozen=True)
class Spec:
    kind: Kind
    model: type[models.Model]
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...] = ()
    description: str = ""
    key: str = "external_id"
    timestamps: tuple[str, ...] = ()  # auto_now_add / auto_now fields the writer fills
    by_name: dict[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    @property
    def customer_refs(self) -> list[Column]:
        return [c for c in self.columns if c.ref is not None and c.ref.model is Customer]


def external_id(label: str, example: str) -> Column:
    return Column(
        "external_id",
        Type.TEXT,
        f"The {label}'s identifier in the system it comes from; the natural key an "
        "import matches on.",
        example=example,
        required=True,
        max_length=64,
    )


def customer_column(name: str = "customer", *, required: bool = True, help: str = "") -> Column:
    return Column(
        name,
        Type.REFERENCE,
        help or "The customer's `external_id`.",
        example="C00042",
        required=required,
        ref=Ref(Customer, "external_id", "customer"),
        max_length=64,
    )


def money(name: str, help: str, *, required: bool = False, example: str = "0.00") -> Column:
    return Column(
        name,
        Type.MONEY,
        help,
        example=example,
        required=required,
        minimum=Decimal("0"),
        default=None if required else "0",
    )


CUSTOMERS = Spec(
    Kind.CUSTOMERS,
    Customer,
    description="One row per customer.",
    columns=(
        external_id("customer", "C00042"),
        Column(
            "name", Type.TEXT, "The customer's name.", "Northwind Logistics", True, max_length=200
        ),
        Column("segment", Type.TEXT, "Segment.", "Mid-market", max_length=80, default=""),
        Column("industry", Type.TEXT, "Industry.", "Retail", max_length=80, default=""),
        Column(
            "acquisition_channel",
            Type.TEXT,
            "The channel that brought the customer.",
            "Direct sales",
            max_length=80,
            default="",
        ),
        Column(
            "sales_rep",
            Type.TEXT,
            "Who won the customer.",
            "Sam Seller",
            max_length=120,
            default="",
        ),
        Column("acquired_on", Type.DATE, "When the customer was won.", "2024-01-15"),
        money("acquisition_cost", "What winning the customer cost.", example="500.00"),
        money("sales_bonus", "The bonus paid for winning them.", example="100.00"),
        Column(
            "account_manager",
            Type.REFERENCE,
            "The account manager's username in Tango.",
            "",
            field="account_manager",
            ref=Ref(User, "username", "user"),
            max_length=150,
        ),
        Column(
            "status",
            Type.CHOICE,
            "The relationship's status.",
            "active",
            choices=Customer.Status,
            default=Customer.Status.ACTIVE.value,
        ),
        Column("released_on", Type.DATE, "When a released customer was let go.", ""),
    ),
    rules=(IfAndOnlyIf("released_on", "status", Customer.Status.RELEASED.value),),
    timestamps=("created_at", "updated_at"),
)

ORDERS = Spec(
    Kind.ORDERS,
    Order,
    description="One row per order.",
    columns=(
        external_id("order", "O000001"),
        customer_column(),
        Column("date", Type.DATE, "The order date.", "2024-02-01", True),
        money("revenue", "Revenue of the order.", required=True, example="1000.00"),
        money("cost", "Cost of goods sold; empty means 0.", example="600.00"),
        Column("category", Type.TEXT, "Product category.", "Hardware", max_length=80, default=""),
        Column(
            "kind",
            Type.CHOICE,
            "First purchase, repeat, upgrade or cross-sell.",
            "repeat",
            choices=Order.Kind,
            default=Order.Kind.REPEAT.value,
        ),
    ),
)

INVOICES = Spec(
    Kind.INVOICES,
    Invoice,
    description="One row per invoice.",
    columns=(
        external_id("invoice", "I000001"),
        customer_column(),
        Column(
            "order",
            Type.REFERENCE,
            "The invoiced order's `external_id`; it must be an order of the same customer.",
            "O000001",
            ref=Ref(Order, "external_id", "order", same_as=("customer", "customer")),
            max_length=64,
        ),
        Column("issued_on", Type.DATE, "Issue date.", "2024-02-01", True),
        Column("due_on", Type.DATE, "Due date.", "2024-03-02", True),
        Column("paid_on", Type.DATE, "Payment date; empty while unpaid.", "2024-02-21"),
        money("amount", "Amount invoiced.", required=True, example="1000.00"),
    ),
    rules=(DateOrder("due_on", "issued_on"), DateOrder("paid_on", "issued_on")),
)

TICKETS = Spec(
    Kind.TICKETS,
    SupportTicket,
    description=(
        "One row per support ticket. Times are ISO 8601 (`2024-03-04 09:30`, "
        "`2024-03-04T09:30:00+01:00`); without an offset they are in the company's time zone."
    ),
    columns=(
        external_id("ticket", "T000001"),
        customer_column(),
        Column("opened_at", Type.DATETIME, "When the ticket was opened.", "2024-03-04 09:00", True),
        Column("first_response_at", Type.DATETIME, "First response.", "2024-03-04 11:00"),
        Column("resolved_at", Type.DATETIME, "Resolution.", "2024-03-05 05:00"),
        Column(
            "priority",
            Type.CHOICE,
            "Priority.",
            "normal",
            choices=SupportTicket.Priority,
            default=SupportTicket.Priority.NORMAL.value,
        ),
        Column(
            "channel",
            Type.CHOICE,
            "Channel / touch point.",
            "email",
            choices=SupportTicket.Channel,
            default=SupportTicket.Channel.EMAIL.value,
        ),
        Column(
            "is_complaint",
            Type.BOOLEAN,
            "Whether the ticket is a complaint: true/false, yes/no or 1/0.",
            "false",
            default="false",
        ),
        Column(
            "csat",
            Type.INTEGER,
            "Satisfaction score the customer gave, 1 to 5.",
            "4",
            minimum=Decimal(1),
            maximum=Decimal(5),
        ),
        Column(
            "subject",
            Type.TEXT,
            "Subject.",
            "Question about an invoice",
            max_length=200,
            default="",
        ),
    ),
    rules=(
        DateOrder("first_response_at", "opened_at"),
        DateOrder("resolved_at", "opened_at"),
    ),
)

ACTIVITIES = Spec(
    Kind.ACTIVITIES,
    ServiceActivity,
    description="One row per service activity: a quantity of an activity type on a date.",
    columns=(
        external_id("activity", "A000001"),
        customer_column(),
        Column(
            "activity_type",
            Type.REFERENCE,
            "The activity type's `code` (see the activity types in the administration).",
            "site-visit",
            True,
            ref=Ref(ActivityType, "code", "activity type"),
            max_length=40,
        ),
        Column("date", Type.DATE, "Date.", "2024-04-01", True),
        Column(
            "quantity",
            Type.DECIMAL,
            "Units of the activity; greater than 0; empty means 1.",
            "1",
            minimum=Decimal(0),
            exclusive_minimum=True,
            default="1",
            max_digits=12,
        ),
        money("amount", "Value of a concession or credit, if any.", example="0.00"),
        Column("note", Type.TEXT, "A note.", "", max_length=200, default=""),
    ),
)

REFERRALS = Spec(
    Kind.REFERRALS,
    Referral,
    description=(
        "One row per referral: who referred whom. The referred party is a customer "
        "(`referred`) or, while not yet one, a name (`referred_name`)."
    ),
    columns=(
        external_id("referral", "R000001"),
        customer_column("referrer", help="The referring customer's `external_id`."),
        customer_column(
            "referred", required=False, help="The referred customer's `external_id`, if any."
        ),
        Column(
            "referred_name",
            Type.TEXT,
            "The prospect's name while not yet a customer.",
            "Prospect Ltd",
            max_length=200,
            default="",
        ),
        Column("date", Type.DATE, "Date of the referral.", "2024-05-01", True),
    ),
    rules=(
        NotSame("referrer", "referred", "a customer cannot refer itself"),
        OneOf(("referred", "referred_name")),
    ),
)

FEEDBACK = Spec(
    Kind.FEEDBACK,
    Feedback,
    description="One row per piece of feedback: a survey answer, an NPS score, an insight.",
    columns=(
        external_id("feedback", "F000001"),
        customer_column(),
        Column("date", Type.DATE, "Date.", "2024-06-01", True),
        Column(
            "kind",
            Type.CHOICE,
            "Survey, NPS survey, interview or suggestion.",
            "nps",
            choices=Feedback.Kind,
            default=Feedback.Kind.SURVEY.value,
        ),
        Column(
            "score",
            Type.INTEGER,
            "NPS score, 0 to 10.",
            "9",
            minimum=Decimal(0),
            maximum=Decimal(10),
        ),
        Column("insight", Type.TEXT, "An idea or insight the customer gave.", "", default=""),
    ),
)

SPECS: dict[str, Spec] = {
    s.kind.value: s for s in (CUSTOMERS, ORDERS, INVOICES, TICKETS, ACTIVITIES, REFERRALS, FEEDBACK)
}

# Kinds whose rows name customers: ``create_missing_customers`` applies to them.
ORDER_LIKE = [k for k, s in SPECS.items() if s.customer_refs and k != Kind.CUSTOMERS]


def get_spec(kind: str) -> Spec:
    try:
        return SPECS[kind]
    except KeyError:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(SPECS)}") from None


def normalise_header(name: str) -> str:
    """``External ID`` and ``external-id`` both mean ``external_id``."""
    return "_".join(str(name).replace("\ufeff", "").strip().lower().replace("-", " ").split())


def describe_type(column: Column) -> str:
    if column.type == Type.CHOICE and column.choices is not None:
        return "one of " + ", ".join(f"`{v}`" for v in column.choices.values)
    if column.type == Type.REFERENCE and column.ref is not None:
        return f"{column.ref.label} `{column.ref.key}`"
    return {
        Type.TEXT: "text" + (f" (≤ {column.max_length})" if column.max_length else ""),
        Type.DATE: "date `YYYY-MM-DD`",
        Type.DATETIME: "date and time, ISO 8601",
        Type.MONEY: "amount, dot decimal, ≤ 2 decimals",
        Type.DECIMAL: "number, dot decimal, ≤ 2 decimals",
        Type.INTEGER: "whole number",
        Type.BOOLEAN: "true / false",
    }.get(column.type, column.type.value)


def describe_range(column: Column) -> str:
    if column.minimum is None and column.maximum is None:
        return ""
    if column.maximum is None:
        return f"> {column.minimum}" if column.exclusive_minimum else f"≥ {column.minimum}"
    return f"{column.minimum} to {column.maximum}"
