"""Demo data: a believable company with three years of customer history.

``demo_seed()`` builds customers, their orders, invoices, tickets, service activities,
referrals and feedback, the activity types and their rates, three role blueprints with
their lifecycle expectations and commitments, and the customers' charters.

Everything is drawn from one ``numpy.random.default_rng(seed)``, in a fixed order, so
the same seed and end date always give the same rows. Every demo customer (and every
row hanging off one) has an ``external_id`` starting with ``DEMO-``; the blueprints and
activity types named below belong to the demo too. A new seed deletes those first, so
re-running never duplicates anything.

The story the numbers tell:

* purchases follow a BG/NBD-like process (a Poisson purchase rate per customer and a
  drop-out chance after every purchase), spend per order is Gamma-Gamma-like;
* the "Paid ads" channel brings customers who buy less, leave sooner and cost more
  to win; the sales rep Derek Vance wins many customers on discounts, earns large
  bonuses on them, and they need concessions later;
* about 4 % of customers are inherently unhappy: many tickets and complaints, low
  scores, credit notes;
* some customers are let down by us (slow responses, missed reviews).
"""

from __future__ import annotations

import time as timer
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.db.models import OuterRef, ProtectedError, RestrictedError, Subquery
from django.utils import timezone

from accounts.services import demo_users_ensure
from commitments.models import Commitment, CommitmentKind, CommitmentOverride
from customers.models import (
    ActivityRate,
    ActivityType,
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)
from roles.models import (
    Charter,
    CharterEvent,
    Direction,
    ExpectationOverride,
    LifecycleExpectation,
    LifecycleStage,
    RoleBlueprint,
)

# Every metric key the demo's expectations and commitments use. The metric catalogue
# must know each of them.
METRIC_KEYS = [
    # the customer's role (lifecycle expectations)
    "purchases_per_year",
    "repeat_purchases_per_year",
    "upgrades_per_year",
    "annual_value",
    "on_time_payment_share",
    "referrals_per_year",
    "nps_promoter_share",
    "forgiveness_share",
    "surveys_per_year",
    "tenure_months",
    "gross_margin_pct",
    # the company's commitments
    "first_response_within_target_share",
    "resolved_within_target_share",
    "listening_sessions_per_year",
    "surprises_per_year",
    "dedicated_manager_assigned",
    "csat_spread_across_channels",
]

DEMO_PREFIX = "DEMO-"
BATCH_SIZE = 2000
DEFAULT_CUSTOMERS = 2000
DEFAULT_SEED = 42
HISTORY_YEARS = 3

SEGMENTS = ("Enterprise", "Mid-market", "Small business")
SEGMENT_P = (0.12, 0.28, 0.60)
ENTERPRISE, MID_MARKET, SMALL = 0, 1, 2

# (industry, nouns that end a company name in that industry)
INDUSTRIES = (
    ("Logistics", ("Logistics", "Freight", "Transport", "Shipping")),
    ("Food & beverage", ("Foods", "Provisions", "Bakeries", "Beverages")),
    ("Manufacturing", ("Manufacturing", "Industries", "Works", "Fabrication")),
    ("Retail", ("Retail", "Stores", "Outfitters", "Market")),
    ("Healthcare", ("Health", "Clinics", "Medical", "Care")),
    ("Construction", ("Construction", "Builders", "Contractors", "Engineering")),
    ("Software", ("Software", "Systems", "Digital", "Labs")),
    ("Hospitality", ("Hotels", "Hospitality", "Catering", "Resorts")),
    ("Energy", ("Energy", "Power", "Solar", "Utilities")),
    ("Professional services", ("Consulting", "Partners", "Advisors", "Associates")),
)
NAME_FIRST = (
    "Northwind", "Blue", "Silver", "Red", "Granite", "Summit", "Evergreen", "Bright",
    "Iron", "Maple", "Golden", "Pine", "River", "Clear", "West", "East", "High", "Oak",
    "Sun", "Cobalt", "Crimson", "Falcon", "Kestrel", "Meridian", "Atlas", "Beacon",
    "Copper", "Fair", "Green", "Juniper", "Keystone", "Lark", "Marlow", "Nordic",
    "Orchard", "Pioneer", "Sterling", "Tide", "Union", "Vantage", "Willow", "Zenith",
    "North", "South", "Alder", "Birch", "Cedar", "Delta", "Ember", "Frost", "Heron",
    "Ivory", "Jade", "Linden", "Mosaic", "Oakmont", "Polar", "Quill", "Sable", "Thistle",
)  # fmt: skip
NAME_SECOND = (
    "Harbor", "Ridge", "Valley", "Bridge", "Point", "Field", "Brook", "Peak", "Stone",
    "Wood", "Bay", "Creek", "Gate", "Hill", "Lake", "Mill", "Rock", "Springs", "View",
    "Crest",
)  # fmt: skip
PERSON_FIRST = (
    "Anna", "Ben", "Clara", "David", "Eva", "Felix", "Grace", "Hugo", "Ines", "Jakob",
    "Kara", "Liam", "Mira", "Noah", "Olga", "Paul", "Rosa", "Sam", "Tara", "Victor",
)  # fmt: skip
PERSON_LAST = (
    "Andersen", "Brooks", "Costa", "Dubois", "Ekström", "Fischer", "García", "Hansen",
    "Ivanova", "Jensen", "Kowalski", "Lambert", "Moreau", "Novak", "O'Brien", "Petrov",
    "Quinn", "Rossi", "Schmidt", "Tanaka",
)  # fmt: skip

CHANNELS = ("Direct sales", "Partner", "Web", "Trade show", "Paid ads")
WEB, PAID_ADS = 2, 4
# channel mix per segment (rows follow SEGMENTS)
CHANNEL_P = np.array(
    [
        [0.55, 0.25, 0.02, 0.14, 0.04],
        [0.33, 0.27, 0.18, 0.14, 0.08],
        [0.13, 0.17, 0.46, 0.11, 0.13],
    ]
)
CHANNEL_COST = np.array([1.25, 1.0, 0.45, 1.15, 1.6])  # acquisition cost multiplier

SALES_REPS = (
    "Maya Lindqvist",
    "Tom Berger",
    "Priya Raman",
    "Jonas Weber",
    "Sofia Marino",
    "Derek Vance",
)
SALES_REP_P = (0.21, 0.18, 0.17, 0.16, 0.13, 0.15)
BAD_REP = 5  # wins on discounts, earns big bonuses, his customers need concessions

ACCOUNT_MANAGERS = ("alice", "bob", "carol")
ACCOUNT_MANAGER_P = (0.36, 0.33, 0.31)

CATEGORIES = (
    "Core platform",
    "Add-on modules",
    "Consumables",
    "Spare parts",
    "Maintenance plans",
    "Professional services",
    "Training",
    "Hardware",
)

TICKET_PRIORITIES = tuple(SupportTicket.Priority.values)  # low, normal, high, urgent
TICKET_CHANNELS = tuple(SupportTicket.Channel.values)  # email, phone, chat, web, ...
TICKET_CHANNEL_P = (0.34, 0.24, 0.18, 0.12, 0.05, 0.07)
TICKET_CHANNEL_CSAT = np.array([0.0, 0.1, 0.1, 0.0, 0.2, -0.5])
TICKET_SUBJECTS = (
    "Question about an invoice",
    "How do I change a delivery address?",
    "Login problem",
    "Request for a quote",
    "Item out of stock",
    "Need a copy of the contract",
    "Installation help",
    "Training session request",
)
COMPLAINT_SUBJECTS = (
    "Delivery arrived late",
    "Wrong item delivered",
    "Damaged goods",
    "Invoice amount is wrong",
    "Nobody called back",
    "Product stopped working",
    "Service engineer did not show up",
)
INSIGHTS = (
    "Offer a quarterly usage report; we would share it with our board.",
    "Let us reorder consumables from a saved list.",
    "Your onboarding videos are too long; short how-tos would help.",
    "Bundle maintenance with hardware purchases.",
    "We would pay for a faster delivery option.",
    "A single contact for billing and support would save us time.",
    "Invite us to a user group; we would like to meet other customers.",
    "Your web shop search does not find part numbers.",
    "We would like to test new modules before they are released.",
    "Invoices should carry our purchase order number.",
)
CHARTER_NOTES = (
    "Agreed in the kick-off meeting.",
    "Signed after the yearly business review.",
    "Customer asked for quarterly reviews instead of monthly ones.",
    "Targets discussed with procurement and operations.",
    "",
    "",
)

# (code, name, kind, unit, description, unit cost three years ago, unit cost a year ago)
_K = ActivityType.Kind
ACTIVITY_TYPES = (
    ("site-visit", "Site visit", _K.SERVICE, "visit",
     "An engineer or the account manager on the customer's premises.", "180.00", "210.00"),
    ("product-return", "Product return", _K.SERVICE, "return",
     "Pick-up, inspection and restocking of a returned item.", "45.00", "55.00"),
    ("credit-note", "Credit note", _K.CONCESSION, "credit note",
     "A credit to settle a dispute; the amount is the money given away.", "25.00", "30.00"),
    ("expedite", "Expedited delivery", _K.SERVICE, "shipment",
     "An order rushed ahead of the normal schedule.", "60.00", "75.00"),
    ("account-review", "Account review", _K.LISTENING, "meeting",
     "A scheduled review of the account with the customer.", "150.00", "170.00"),
    ("business-review", "Executive business review", _K.LISTENING, "meeting",
     "A yearly review with the customer's management.", "600.00", "680.00"),
    ("surprise-gift", "Surprise gift", _K.SURPRISE, "gift",
     "Something the customer did not expect: a gift, an upgrade, a thank-you.", "80.00", "90.00"),
    ("dedicated-manager", "Dedicated manager time", _K.PREFERRED, "hour",
     "Hours the dedicated account manager spent on the customer.", "70.00", "78.00"),
)  # fmt: skip
ACTIVITY_CODES = tuple(spec[0] for spec in ACTIVITY_TYPES)
(
    SITE_VISIT,
    PRODUCT_RETURN,
    CREDIT_NOTE,
    EXPEDITE,
    ACCOUNT_REVIEW,
    BUSINESS_REVIEW,
    SURPRISE_GIFT,
    DEDICATED_MANAGER,
) = range(len(ACTIVITY_TYPES))

STRATEGIC, GROWTH, TRANSACTIONAL = 0, 1, 2
_S = LifecycleStage
_AWARENESS_REASON = "Customers come to us through sales and partners; awareness is not their job."
# Per blueprint: the fields of the blueprint, then {stage: (metric, target, weight)} or
# {stage: reason} for a stage left out of the role.
BLUEPRINTS = (
    {
        "name": "Strategic partner",
        "description": "A large customer we build the future with: buys across the range, "
        "pays on time, tells us what to build and speaks for us.",
        "relationship_length_months": 60,
        "purchases_per_year": "13",
        "purchase_value": "10000.00",
        "lifetime_value": "150000.00",
        "annual_value": "35000.00",
        "annual_value_growth_pct": "10.00",
        "referrals_per_year": "0.5",
        "insights_per_year": "2",
        "cross_sell_products": "Maintenance plans, Professional services, Training",
        "expectations": {
            _S.AWARENESS: _AWARENESS_REASON,
            _S.PURCHASE: ("annual_value", "35000", "2"),
            _S.REPEAT_PURCHASE: ("repeat_purchases_per_year", "12", "1"),
            _S.UPGRADE: ("upgrades_per_year", "1", "1"),
            _S.ON_TIME_PAYMENT: ("on_time_payment_share", "0.95", "1"),
            _S.REFERRALS: ("referrals_per_year", "0.5", "1"),
            _S.EVANGELIZING: ("nps_promoter_share", "0.6", "1"),
            _S.FORGIVENESS: ("forgiveness_share", "0.9", "1"),
            _S.FEEDBACK: ("surveys_per_year", "2", "1.5"),
            _S.LONG_TERM: ("tenure_months", "18", "1"),
            _S.HIGH_MARGINS: ("gross_margin_pct", "32", "1.5"),
        },
    },
    {
        "name": "Growth account",
        "description": "A mid-sized customer with room to grow: buys regularly, adds "
        "products over time and refers peers.",
        "relationship_length_months": 36,
        "purchases_per_year": "8",
        "purchase_value": "2000.00",
        "lifetime_value": "15000.00",
        "annual_value": "6000.00",
        "annual_value_growth_pct": "15.00",
        "referrals_per_year": "0.3",
        "insights_per_year": "1",
        "cross_sell_products": "Add-on modules, Training",
        "expectations": {
            _S.AWARENESS: _AWARENESS_REASON,
            _S.PURCHASE: ("purchases_per_year", "8", "1"),
            _S.REPEAT_PURCHASE: ("repeat_purchases_per_year", "7", "1.5"),
            _S.UPGRADE: ("upgrades_per_year", "0.5", "1.5"),
            _S.ON_TIME_PAYMENT: ("on_time_payment_share", "0.9", "1"),
            _S.REFERRALS: ("referrals_per_year", "0.3", "1"),
            _S.EVANGELIZING: ("nps_promoter_share", "0.5", "1"),
            _S.FORGIVENESS: ("forgiveness_share", "0.8", "1"),
            _S.FEEDBACK: ("surveys_per_year", "1", "1"),
            _S.LONG_TERM: ("tenure_months", "12", "1"),
            _S.HIGH_MARGINS: ("gross_margin_pct", "30", "1"),
        },
    },
    {
        "name": "Transactional",
        "description": "A small customer served mostly through self-service: buys the "
        "standard range, pays on time and costs little to serve.",
        "relationship_length_months": 24,
        "purchases_per_year": "6",
        "purchase_value": "400.00",
        "lifetime_value": "2500.00",
        "annual_value": "1200.00",
        "annual_value_growth_pct": None,
        "referrals_per_year": "0.1",
        "insights_per_year": "0.5",
        "cross_sell_products": "Consumables",
        "expectations": {
            _S.AWARENESS: _AWARENESS_REASON,
            _S.PURCHASE: ("purchases_per_year", "6", "1"),
            _S.REPEAT_PURCHASE: ("repeat_purchases_per_year", "5", "1.5"),
            _S.UPGRADE: "Transactional customers buy the standard range; no upgrades asked.",
            _S.ON_TIME_PAYMENT: ("on_time_payment_share", "0.85", "1.5"),
            _S.REFERRALS: ("referrals_per_year", "0.1", "0.5"),
            _S.EVANGELIZING: ("nps_promoter_share", "0.3", "0.5"),
            _S.FORGIVENESS: ("forgiveness_share", "0.7", "1"),
            _S.FEEDBACK: ("surveys_per_year", "0.5", "0.5"),
            _S.LONG_TERM: ("tenure_months", "9", "1"),
            _S.HIGH_MARGINS: ("gross_margin_pct", "30", "2"),
        },
    },
)
BLUEPRINT_NAMES = tuple(bp["name"] for bp in BLUEPRINTS)

_C = CommitmentKind
_MOST = Direction.AT_MOST
# Per blueprint: (kind, title, description, metric, target, direction, yearly cost)
COMMITMENTS = (
    (
        (_C.EXPERIENCE, "Joint success plan",
         "A written success plan agreed at kick-off and reviewed every year.", "", None, None,
         "1000.00"),
        (_C.SERVICE_LEVEL, "Same-day shipping on stocked items",
         "Orders placed before 15:00 leave the warehouse the same day.", "", None, None,
         "1500.00"),
        (_C.LISTENING, "Quarterly account reviews",
         "Four account or business reviews a year.", "listening_sessions_per_year", "4", None,
         "0.00"),
        (_C.RESPONSE, "First response within 2 business hours",
         "95 % of tickets get a first response within 2 business hours.",
         "first_response_within_target_share", "0.95", None, "0.00"),
        (_C.RESOLUTION, "Problems resolved within 2 business days",
         "90 % of tickets are resolved within 2 business days.",
         "resolved_within_target_share", "0.90", None, "0.00"),
        (_C.PREFERRED, "Dedicated account manager",
         "One named account manager who knows the business.", "dedicated_manager_assigned",
         "1", None, "12000.00"),
        (_C.CONSISTENCY, "Same service on every channel",
         "CSAT differs by at most one point between the best and worst channel.",
         "csat_spread_across_channels", "1", _MOST, "0.00"),
        (_C.SURPRISE, "Two surprises a year",
         "Something unexpected twice a year: a gift, an upgrade, an invitation.",
         "surprises_per_year", "2", None, "0.00"),
    ),
    (
        (_C.EXPERIENCE, "Guided onboarding",
         "An onboarding programme in the first three months.", "", None, None, "0.00"),
        (_C.SERVICE_LEVEL, "Delivery within 3 business days",
         "Stocked items are delivered within three business days.", "", None, None, "0.00"),
        (_C.LISTENING, "Twice-yearly account reviews",
         "Two account reviews a year.", "listening_sessions_per_year", "2", None, "0.00"),
        (_C.RESPONSE, "First response within 4 business hours",
         "90 % of tickets get a first response within 4 business hours.",
         "first_response_within_target_share", "0.90", None, "0.00"),
        (_C.RESOLUTION, "Problems resolved within 3 business days",
         "85 % of tickets are resolved within 3 business days.",
         "resolved_within_target_share", "0.85", None, "0.00"),
        (_C.PREFERRED, "Priority support queue",
         "Tickets jump the standard queue.", "", None, None, "200.00"),
        (_C.CONSISTENCY, "Same service on every channel",
         "CSAT differs by at most 1.25 points between the best and worst channel.",
         "csat_spread_across_channels", "1.25", _MOST, "0.00"),
        (_C.SURPRISE, "A surprise a year",
         "One unexpected gesture a year.", "surprises_per_year", "1", None, "0.00"),
    ),
    (
        (_C.EXPERIENCE, "Self-service portal",
         "Ordering, tracking and invoices online, any time.", "", None, None, "0.00"),
        (_C.SERVICE_LEVEL, "Delivery within 5 business days",
         "Standard delivery within five business days.", "", None, None, "0.00"),
        (_C.LISTENING, "Yearly satisfaction call",
         "A short review call every other year at least.", "listening_sessions_per_year",
         "0.5", None, "0.00"),
        (_C.RESPONSE, "First response within 1 business day",
         "85 % of tickets get a first response within one business day.",
         "first_response_within_target_share", "0.85", None, "0.00"),
        (_C.RESOLUTION, "Problems resolved within 5 business days",
         "80 % of tickets are resolved within five business days.",
         "resolved_within_target_share", "0.80", None, "0.00"),
        (_C.PREFERRED, "Loyalty pricing after two years",
         "A loyalty discount from the third year on.", "", None, None, "0.00"),
        (_C.CONSISTENCY, "Same service on every channel",
         "CSAT differs by at most 1.5 points between the best and worst channel.",
         "csat_spread_across_channels", "1.5", _MOST, "0.00"),
        (_C.SURPRISE, "An occasional thank-you",
         "A thank-you note or small gift now and then.", "", None, None, "0.00"),
    ),
)  # fmt: skip

# Parameters of the measurable commitments and expectations (see the metric catalogue):
# target times in business hours, the forgiveness window in days.
COMMITMENT_PARAMS = {
    (STRATEGIC, _C.RESPONSE): {"hours": 2},
    (GROWTH, _C.RESPONSE): {"hours": 4},
    (TRANSACTIONAL, _C.RESPONSE): {"hours": 8},
    (STRATEGIC, _C.RESOLUTION): {"hours": 16},
    (GROWTH, _C.RESOLUTION): {"hours": 24},
    (TRANSACTIONAL, _C.RESOLUTION): {"hours": 40},
}
EXPECTATION_PARAMS = {_S.FORGIVENESS: {"days": 90}}

# Which blueprint fits a customer of each segment (rows follow SEGMENTS).
BLUEPRINT_P = np.array([[0.85, 0.15, 0.0], [0.04, 0.76, 0.20], [0.0, 0.22, 0.78]])


class DemoSeedError(Exception):
    """The demo could not be (re)built; the message says why."""


@dataclass
class SeedResult:
    skipped: bool = False
    existing_customers: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    deleted: dict[str, int] = field(default_factory=dict)
    unprofitable: int = 0
    seconds: float = 0.0
    start: date | None = None
    end: date | None = None


# --------------------------------------------------------------------------- helpers


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _money(cents: int) -> Decimal:
    """Whole cents as a Decimal with two places."""
    return Decimal(int(cents)).scaleb(-2)


def _choice(rng: np.random.Generator, p_rows: np.ndarray) -> np.ndarray:
    """One draw per row of a matrix of probabilities."""
    cumulative = np.cumsum(p_rows, axis=1)
    cumulative[:, -1] = 1.0
    u = rng.random(len(p_rows))
    return (u[:, None] > cumulative).sum(axis=1)


def _spread(rng: np.random.Generator, counts: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """``counts[i]`` days drawn uniformly in ``[lo[i], hi[i]]`` per customer i."""
    owner = np.repeat(np.arange(len(counts)), counts)
    width = (hi - lo + 1)[owner]
    day = lo[owner] + np.floor(rng.random(len(owner)) * width).astype(np.int64)
    return owner, day


def _cents(values: np.ndarray) -> np.ndarray:
    return np.maximum(np.rint(values * 100), 0).astype(np.int64)


class _Names:
    """Company and person names composed from fixed word lists, never repeated."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.used: set[str] = set()

    def company(self, industry: int) -> str:
        nouns = INDUSTRIES[industry][1]
        for _ in range(30):
            a, b, noun, two = self.rng.integers(
                [0, 0, 0, 0], [len(NAME_FIRST), len(NAME_SECOND), len(nouns), 3]
            )
            if two:
                name = f"{NAME_FIRST[a]} {NAME_SECOND[b]} {nouns[noun]}"
            else:
                name = f"{NAME_FIRST[a]} {nouns[noun]}"
            if name not in self.used:
                self.used.add(name)
                return name
        k = 2
        while f"{name} {k}" in self.used:
            k += 1
        self.used.add(f"{name} {k}")
        return f"{name} {k}"

    def person(self) -> str:
        a, b = self.rng.integers([0, 0], [len(PERSON_FIRST), len(PERSON_LAST)])
        return f"{PERSON_FIRST[a]} {PERSON_LAST[b]}"


# ------------------------------------------------------------------------ the plan


@dataclass
class _Plan:
    """Everything drawn, as arrays and lists, before anything touches the database.
    Days are offsets from ``start``; money is in whole cents."""

    start: date
    end: date
    horizon: int  # days from start to end
    customers: dict[str, np.ndarray | list]
    orders: dict[str, np.ndarray]
    invoices: dict[str, np.ndarray]
    tickets: dict[str, np.ndarray]
    activities: dict[str, np.ndarray]
    referrals: list[tuple[int, int, int | None, str]]  # referrer, day, referred, name
    feedback: dict[str, np.ndarray | list]
    charters: list[dict]
    unprofitable: int
    traits: dict[str, np.ndarray]  # the hidden draws, for checking the story


def _plan(n: int, seed: int, end: date) -> _Plan:
    rng = np.random.default_rng(seed)
    start = _years_before(end, HISTORY_YEARS)
    horizon = (end - start).days
    idx = np.arange(n)

    # ---- customers -----------------------------------------------------------------
    segment = rng.choice(3, size=n, p=SEGMENT_P)
    industry = rng.integers(0, len(INDUSTRIES), size=n)
    channel = _choice(rng, CHANNEL_P[segment])
    rep = rng.choice(len(SALES_REPS), size=n, p=SALES_REP_P)
    rep[channel == WEB] = -1  # self-service sign-ups: nobody won them
    bad_channel = channel == PAID_ADS
    bad_rep = rep == BAD_REP
    bad = bad_channel | bad_rep
    unhappy = rng.random(n) < 0.04
    failed_by_us = rng.random(n) < 0.08
    # more recent = more customers
    acquired = np.floor(rng.beta(1.7, 1.0, size=n) * (horizon + 1)).astype(np.int64)
    acquired = np.minimum(acquired, horizon)
    tenure_days = horizon - acquired + 1

    acq_base = np.array([4500.0, 1000.0, 180.0])[segment] * CHANNEL_COST[channel]
    acquisition_cost = _cents(acq_base * rng.lognormal(0.0, 0.35, size=n))
    bonus_base = np.array([1500.0, 350.0, 60.0])[segment] * np.where(bad_rep, 2.5, 1.0)
    bonus = _cents(bonus_base * rng.lognormal(0.0, 0.3, size=n))
    bonus[rep < 0] = 0

    manager = rng.choice(len(ACCOUNT_MANAGERS), size=n, p=ACCOUNT_MANAGER_P)
    no_manager = (rng.random(n) < 0.057) & (segment != ENTERPRISE)
    manager[no_manager] = -1
    blueprint = _choice(rng, BLUEPRINT_P[segment])

    # satisfaction drives scores, CSAT and referrals
    satisfaction = np.where(
        unhappy,
        rng.beta(1.2, 5.0, size=n),
        np.where(bad, rng.beta(3.0, 3.0, size=n), rng.beta(5.0, 2.0, size=n)),
    )

    # ---- orders: BG/NBD-like purchases, Gamma-Gamma-like spend -----------------------
    rate_mean = np.array([0.33, 0.25, 0.185])[segment] * np.where(bad_channel, 0.75, 1.0)
    rate = np.minimum(rng.gamma(3.0, 1.0, size=n) * rate_mean / 3.0, 2.0)  # per week
    dropout = (
        np.where(
            bad_channel | unhappy,
            rng.beta(2.0, 10.0, size=n),
            np.where(bad_rep, rng.beta(1.5, 12.0, size=n), rng.beta(2.0, 100.0, size=n)),
        )
        * np.array([0.4, 0.8, 1.0])[segment]
    )  # large customers rarely walk away
    potential = rng.poisson(rate * tenure_days / 7.0)  # repeat purchases if never leaving
    lifetime = rng.geometric(dropout) - 1  # repeat purchases before dropping out
    repeats = np.minimum(potential, lifetime)
    dropped_out = lifetime < potential
    owner = np.repeat(idx, potential)
    offset = rng.random(len(owner)) * tenure_days[owner]
    sort = np.lexsort((offset, owner))
    owner, offset = owner[sort], offset[sort]
    first_of = np.concatenate(([0], np.cumsum(potential)[:-1]))
    rank = np.arange(len(owner)) - first_of[owner]
    keep = rank < repeats[owner]
    owner, offset = owner[keep], offset[keep]

    o_customer = np.concatenate((idx, owner))
    o_day = np.concatenate((acquired, acquired[owner] + np.floor(offset).astype(np.int64)))
    o_day = np.minimum(o_day, horizon)
    o_first = np.concatenate((np.ones(n, dtype=bool), np.zeros(len(owner), dtype=bool)))
    sort = np.lexsort((~o_first, o_day, o_customer))
    o_customer, o_day, o_first = o_customer[sort], o_day[sort], o_first[sort]
    n_orders = len(o_customer)

    u = rng.random(n_orders)
    upgrade_p = np.array([0.08, 0.07, 0.03])[segment][o_customer]
    o_kind = np.where(
        o_first, 0, np.where(u < upgrade_p, 2, np.where(u < upgrade_p + 0.08, 3, 1))
    )  # 0 first, 1 repeat, 2 upgrade, 3 cross-sell
    primary = rng.integers(0, len(CATEGORIES), size=n)
    other = (primary[o_customer] + rng.integers(1, len(CATEGORIES), size=n_orders)) % len(
        CATEGORIES
    )
    o_category = np.where((o_kind == 3) | (rng.random(n_orders) < 0.15), other, primary[o_customer])
    spend = np.array([12000.0, 2200.0, 450.0])[segment] * rng.gamma(4.0, 0.25, size=n)
    spend *= np.where(bad_channel, 0.8, 1.0)
    kind_factor = np.array([1.5, 1.0, 1.7, 0.6])[o_kind]
    revenue = _cents(rng.gamma(6.0, 1.0, size=n_orders) * spend[o_customer] / 6.0 * kind_factor)
    revenue = np.maximum(revenue, 500)
    margin = 0.25 + 0.20 * rng.beta(2.0, 2.0, size=n)
    margin -= np.where(bad_rep, 0.10, 0.0) + np.where(bad_channel, 0.06, 0.0)
    margin = np.maximum(margin, 0.05)
    o_margin = np.clip(margin[o_customer] + rng.normal(0.0, 0.03, size=n_orders), 0.01, 0.8)
    cost = np.rint(revenue * (1.0 - o_margin)).astype(np.int64)

    last_order = np.zeros(n, dtype=np.int64)
    np.maximum.at(last_order, o_customer, o_day)
    orders_per_customer = np.bincount(o_customer, minlength=n)
    # the customer stays in touch until the end, or a while after dropping out
    active_until = np.where(dropped_out, np.minimum(last_order + 60, horizon), horizon)
    active_years = (active_until - acquired + 1) / 365.25
    dormant = dropped_out & (horizon - last_order > 270) & (rng.random(n) < 0.2)

    # ---- invoices: one per order -----------------------------------------------------
    late_payer = rng.random(n) < np.where(bad, 0.40, 0.14)
    late = (late_payer[o_customer] & (rng.random(n_orders) < 0.65)) | (rng.random(n_orders) < 0.03)
    paid_day = np.where(
        late,
        o_day + 30 + rng.integers(10, 91, size=n_orders),
        o_day + rng.integers(0, 31, size=n_orders),
    )
    never = late_payer[o_customer] & (rng.random(n_orders) < 0.02)
    paid_day = np.where((paid_day > horizon) | never, -1, paid_day)

    # ---- support tickets ---------------------------------------------------------------
    ticket_rate = np.array([7.0, 3.0, 1.1])[segment]
    ticket_rate = ticket_rate * np.where(bad, 1.6, 1.0) * np.where(unhappy, 5.0, 1.0)
    t_customer, t_day = _spread(
        rng, rng.poisson(ticket_rate * active_years), acquired, active_until
    )
    n_tickets = len(t_customer)
    business = rng.random(n_tickets) < 0.85
    weekday = (start.weekday() + t_day) % 7
    weekend = business & (weekday >= 5)
    to_friday = t_day - (weekday - 4)
    to_monday = t_day + (7 - weekday)
    t_day = np.where(
        weekend,
        np.where(to_friday >= acquired[t_customer], to_friday, np.minimum(to_monday, horizon)),
        t_day,
    )
    minute_of_day = np.where(
        business,
        rng.integers(8 * 60, 18 * 60, size=n_tickets),
        rng.integers(0, 24 * 60, size=n_tickets),
    )
    t_opened = t_day * 1440 + minute_of_day  # minutes since start
    complaint_p = np.where(unhappy, 0.45, np.where(bad, 0.16, 0.08))[t_customer]
    t_complaint = rng.random(n_tickets) < complaint_p
    t_priority = np.where(
        t_complaint,
        rng.choice(4, size=n_tickets, p=(0.05, 0.35, 0.40, 0.20)),
        rng.choice(4, size=n_tickets, p=(0.28, 0.52, 0.15, 0.05)),
    )
    t_channel = rng.choice(len(TICKET_CHANNELS), size=n_tickets, p=TICKET_CHANNEL_P)
    # minutes to a first response: the role's service level, unless we let them down
    slow = np.where(failed_by_us[t_customer], 6.0, 1.0)
    speed = np.array([1.0, 1.0, 0.6, 0.3])[t_priority] * slow
    speed *= np.array([30.0, 60.0, 150.0])[blueprint[t_customer]]
    t_response = t_opened + np.clip(
        np.rint(rng.lognormal(0.0, 0.9, size=n_tickets) * speed), 1, 10 * 1440
    ).astype(np.int64)
    t_resolved = t_response + np.clip(
        np.rint(
            rng.lognormal(np.log(480.0), 1.1, size=n_tickets)
            * np.array([0.7, 1.0, 1.5])[blueprint[t_customer]]
            * np.where(t_complaint, 2.0, 1.0)
            * slow
        ),
        5,
        45 * 1440,
    ).astype(np.int64)
    end_minute = (horizon + 1) * 1440 - 1
    still_open = (t_day > horizon - 45) & (rng.random(n_tickets) < 0.3)
    t_resolved = np.where((t_resolved > end_minute) | still_open, -1, t_resolved)
    t_response = np.where(t_response > end_minute, -1, t_response)
    t_resolved = np.where(t_response < 0, -1, t_resolved)
    answered = (t_resolved >= 0) & (rng.random(n_tickets) < 0.62)
    csat_raw = (
        1.0
        + 4.0 * satisfaction[t_customer]
        + rng.normal(0.0, 0.6, size=n_tickets)
        - 1.2 * t_complaint
        + TICKET_CHANNEL_CSAT[t_channel]
        - 1.0 * failed_by_us[t_customer]
    )
    t_csat = np.where(answered, np.clip(np.rint(csat_raw), 1, 5), 0).astype(np.int64)
    t_subject = np.where(
        t_complaint,
        rng.integers(0, len(COMPLAINT_SUBJECTS), size=n_tickets),
        rng.integers(0, len(TICKET_SUBJECTS), size=n_tickets),
    )

    # ---- charters (drawn before the activities: commitments follow the charter) --------
    names = _Names(rng)
    customer_names = [names.company(i) for i in industry.tolist()]
    signatory = [names.person() for _ in range(n)]
    charter_p = np.array([0.97, 0.90, 0.80])[segment]
    has_charter = rng.random(n) < charter_p
    pattern_u = rng.random(n)
    agree_after = rng.integers(7, 61, size=n)
    propose_before = rng.integers(1, 11, size=n)
    create_before = rng.integers(1, 15, size=n)
    renewal_after = rng.integers(180, 540, size=n)
    note_pick = rng.integers(0, len(CHARTER_NOTES), size=n)
    draft_after = rng.integers(0, 31, size=n)
    open_days_ago = rng.integers(0, 60, size=n)
    charters: list[dict] = []
    has_agreed = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(has_charter).tolist():
        a, u_, current = int(acquired[i]), float(pattern_u[i]), int(blueprint[i])
        first_agreed = a + int(agree_after[i])
        second_agreed = first_agreed + int(renewal_after[i])

        def charter(version: int, role: int, status: str, steps: list, i: int = i) -> None:
            charters.append(
                {
                    "customer": i,
                    "by": int(manager[i]),
                    "agreed_by": signatory[i],
                    "notes": CHARTER_NOTES[int(note_pick[i])],
                    "version": version,
                    "blueprint": role,
                    "status": status,
                    "steps": steps,  # (status, day, minute of the day) of each change
                }
            )

        def open_steps(proposed: bool, i: int = i, lo: int = a) -> list:
            created = min(lo + int(draft_after[i]), horizon)
            steps = [("draft", created, 9 * 60)]
            if proposed:
                steps.append(("proposed", min(created + int(propose_before[i]), horizon), 660))
            return steps

        def agreed_steps(agreed: int, i: int = i, lo: int = a) -> list:
            proposed_day = max(lo, agreed - int(propose_before[i]))
            created_day = max(lo, proposed_day - int(create_before[i]))
            return [
                ("draft", created_day, 9 * 60),
                ("proposed", proposed_day, 11 * 60),
                ("agreed", agreed, 15 * 60),
            ]

        if first_agreed > horizon or u_ < 0.07:
            charter(1, current, "draft", open_steps(proposed=False))
        elif u_ < 0.15:
            charter(1, current, "proposed", open_steps(proposed=True))
        elif u_ < 0.27 and second_agreed <= horizon:
            # promoted: the older, smaller role was superseded by the current one
            older = min(current + 1, TRANSACTIONAL)
            superseded = ("superseded", second_agreed, 15 * 60 + 1)
            charter(1, older, "superseded", [*agreed_steps(first_agreed), superseded])
            charter(2, current, "agreed", agreed_steps(second_agreed))
            has_agreed[i] = True
        else:
            charter(1, current, "agreed", agreed_steps(first_agreed))
            has_agreed[i] = True
            renegotiating = horizon - int(open_days_ago[i])
            if u_ > 0.96 and renegotiating > first_agreed:
                # a new version is being drafted while the agreed one stays in force
                charter(2, current, "draft", [("draft", renegotiating, 10 * 60)])

    # ---- service activities --------------------------------------------------------------
    # how much of the promised treatment the customer actually gets
    delivery = np.where(failed_by_us, 0.3, 1.0) * np.where(has_agreed, 1.0, 0.4)
    acts: list[tuple[np.ndarray, ...]] = []  # (customer, day, type, quantity, amount cents)

    def add(customer, day, kind, quantity=None, amount=None):
        k = len(customer)
        acts.append(
            (
                customer,
                np.minimum(day, horizon),
                np.full(k, kind),
                np.ones(k, dtype=np.int64) if quantity is None else quantity,
                np.zeros(k, dtype=np.int64) if amount is None else amount,
            )
        )

    need = np.where(bad, 1.5, 1.0) * np.where(unhappy, 1.8, 1.0)
    visits = np.array([4.0, 1.2, 0.15])[segment] * need * active_years
    c, d = _spread(rng, rng.poisson(visits), acquired, active_until)
    add(c, d, SITE_VISIT, quantity=1 + (rng.random(len(c)) < 0.1))

    per_order = np.arange(n_orders)
    returns_p = np.where(unhappy, 0.15, np.where(bad, 0.09, 0.02))[o_customer]
    sel = per_order[rng.random(n_orders) < returns_p]
    add(o_customer[sel], o_day[sel] + rng.integers(3, 31, size=len(sel)), PRODUCT_RETURN,
        quantity=rng.integers(1, 4, size=len(sel)))  # fmt: skip

    credit_p = np.where(unhappy, 0.15, np.where(bad_rep, 0.12, np.where(bad, 0.07, 0.015)))
    sel = per_order[rng.random(n_orders) < credit_p[o_customer]]
    share = rng.uniform(0.1, 0.5, size=len(sel)) * np.where(bad_rep[o_customer[sel]], 1.5, 1.0)
    add(o_customer[sel], o_day[sel] + rng.integers(5, 46, size=len(sel)), CREDIT_NOTE,
        amount=np.rint(revenue[sel] * share).astype(np.int64))  # fmt: skip
    sel = np.flatnonzero(t_complaint & (rng.random(n_tickets) < 0.45))
    share = rng.uniform(0.1, 0.6, size=len(sel))
    add(t_customer[sel], t_day[sel] + rng.integers(1, 11, size=len(sel)), CREDIT_NOTE,
        amount=_cents(spend[t_customer[sel]] * share))  # fmt: skip

    expedite_p = np.where(unhappy, 0.10, np.where(bad, 0.08, 0.02))
    expedite_p = expedite_p + np.where(segment == ENTERPRISE, 0.03, 0.0)
    sel = per_order[rng.random(n_orders) < expedite_p[o_customer]]
    add(o_customer[sel], o_day[sel], EXPEDITE)

    for kind, rates in (
        (ACCOUNT_REVIEW, (3.8, 2.0, 0.7)),
        (BUSINESS_REVIEW, (1.2, 0.6, 0.1)),
        (SURPRISE_GIFT, (2.5, 1.3, 0.25)),
        (DEDICATED_MANAGER, (12.0, 0.0, 0.0)),
    ):
        expected = np.array(rates)[blueprint] * delivery * active_years
        c, d = _spread(rng, rng.poisson(expected), acquired, active_until)
        quantity = rng.integers(1, 5, size=len(c)) if kind == DEDICATED_MANAGER else None
        add(c, d, kind, quantity=quantity)

    a_customer, a_day, a_type, a_quantity, a_amount = (
        np.concatenate(x) for x in zip(*acts, strict=True)
    )
    sort = np.lexsort((a_type, a_day, a_customer))
    activities = {
        "customer": a_customer[sort],
        "day": a_day[sort],
        "type": a_type[sort],
        "quantity": a_quantity[sort],
        "amount": a_amount[sort],
    }

    # ---- referrals ---------------------------------------------------------------------
    refer_p = np.clip(0.03 + 0.40 * satisfaction**2, 0.0, 0.6) * np.where(bad, 0.6, 1.0)
    refer_p *= np.array([1.4, 1.1, 0.9])[segment]
    referrer = np.flatnonzero(rng.random(n) < refer_p)
    how_many = 1 + rng.poisson(0.4 * active_years[referrer])
    r_owner, r_day = _spread(rng, how_many, acquired[referrer], active_until[referrer])
    r_owner = referrer[r_owner]
    sort = np.lexsort((r_owner, r_day))
    r_owner, r_day = r_owner[sort], r_day[sort]
    by_acquisition = np.argsort(acquired, kind="stable")
    acquired_sorted = acquired[by_acquisition].tolist()
    already_referred = np.zeros(n, dtype=bool)
    referrals = []
    to_customer = rng.random(len(r_owner)) < 0.5
    picks = rng.random((len(r_owner), 3))
    for k, (who, day) in enumerate(zip(r_owner.tolist(), r_day.tolist(), strict=True)):
        referred = None
        if to_customer[k]:
            lo = bisect_right(acquired_sorted, day)
            hi = bisect_right(acquired_sorted, day + 120)
            for pick in picks[k]:
                if hi <= lo:
                    break
                candidate = int(by_acquisition[lo + int(pick * (hi - lo))])
                if candidate != who and not already_referred[candidate]:
                    referred = candidate
                    already_referred[candidate] = True
                    break
        if referred is None:
            referrals.append((who, day, None, names.company(int(rng.integers(len(INDUSTRIES))))))
        else:
            referrals.append((who, day, referred, ""))

    # ---- feedback ------------------------------------------------------------------------
    survey_rate = np.array([2.6, 1.5, 1.0])[blueprint] * (0.5 + satisfaction)
    f_customer, f_day = _spread(
        rng, rng.poisson(survey_rate * active_years), acquired, active_until
    )
    n_feedback = len(f_customer)
    interview_p = np.where(blueprint[f_customer] == STRATEGIC, 0.10, 0.02)
    u = rng.random(n_feedback)
    f_kind = np.where(
        u < interview_p, 2, np.where(u < interview_p + 0.08, 3, np.where(u < 0.68, 1, 0))
    )  # 0 survey, 1 nps, 2 interview, 3 suggestion
    score = np.clip(
        np.rint(4.0 + 7.0 * satisfaction[f_customer] + rng.normal(0.0, 1.2, size=n_feedback)),
        0,
        10,
    ).astype(np.int64)
    f_score = np.where(f_kind == 3, -1, score)
    with_insight = (f_kind >= 2) | (rng.random(n_feedback) < 0.2)
    f_insight = np.where(with_insight, rng.integers(0, len(INSIGHTS), size=n_feedback), -1)
    sort = np.lexsort((f_day, f_customer))

    # ---- who costs more than they bring (a rough look: acquisition + concessions) -----------
    gross = np.bincount(o_customer, weights=revenue - cost, minlength=n)
    concessions = np.bincount(activities["customer"], weights=activities["amount"], minlength=n)
    unprofitable = int(np.sum(acquisition_cost + bonus + concessions > gross))

    status = np.where(dormant, Customer.Status.DORMANT, Customer.Status.ACTIVE)
    return _Plan(
        start=start,
        end=end,
        horizon=horizon,
        customers={
            "name": customer_names,
            "segment": segment,
            "industry": industry,
            "channel": channel,
            "rep": rep,
            "acquired": acquired,
            "acquisition_cost": acquisition_cost,
            "bonus": bonus,
            "manager": manager,
            "status": status,
            "orders": orders_per_customer,
        },
        orders={
            "customer": o_customer,
            "day": o_day,
            "kind": o_kind,
            "category": o_category,
            "revenue": revenue,
            "cost": cost,
        },
        invoices={"paid_day": paid_day},
        tickets={
            "customer": t_customer,
            "opened": t_opened,
            "response": t_response,
            "resolved": t_resolved,
            "priority": t_priority,
            "channel": t_channel,
            "complaint": t_complaint,
            "csat": t_csat,
            "subject": t_subject,
        },
        activities=activities,
        referrals=referrals,
        feedback={
            "customer": f_customer[sort],
            "day": f_day[sort],
            "kind": f_kind[sort],
            "score": f_score[sort],
            "insight": f_insight[sort],
        },
        charters=charters,
        unprofitable=unprofitable,
        traits={
            "rate": rate,
            "dropout": dropout,
            "dropped_out": dropped_out,
            "bad": bad,
            "unhappy": unhappy,
            "failed_by_us": failed_by_us,
            "margin": margin,
            "spend": spend,
            "blueprint": blueprint,
        },
    )


# ------------------------------------------------------------------------ the writes


def _insert(model, count: int, make: Callable[[int], object], *, keep: bool = False) -> list:
    """Create ``count`` rows built by ``make(i)`` in batches; return the objects if
    asked (their primary keys set), else an empty list."""
    kept: list = []
    for lo in range(0, count, BATCH_SIZE):
        batch = [make(i) for i in range(lo, min(lo + BATCH_SIZE, count))]
        model.objects.bulk_create(batch, batch_size=BATCH_SIZE)
        if keep:
            kept.extend(batch)
    return kept


def _pks_by_external_id(model, objs: list) -> list[int]:
    """Primary keys in the order of ``objs`` (fetched when the backend did not return them)."""
    if all(o.pk is not None for o in objs):
        return [o.pk for o in objs]
    found = dict(
        model.objects.filter(external_id__startswith=DEMO_PREFIX).values_list("external_id", "pk")
    )
    return [found[o.external_id] for o in objs]


def _restamp(model, names: list[str], objs: list) -> None:
    """Write the objects' own values of auto-now timestamp fields, which inserts and
    ``save()`` overwrite. One prepared statement run for all rows."""
    fields = [model._meta.get_field(name) for name in names]
    qn = connection.ops.quote_name
    # Identifiers come from the model's metadata; every value is a parameter.
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608  # nosec B608 # quoted identifiers
        qn(model._meta.db_table),
        ", ".join(f"{qn(f.column)} = %s" for f in fields),
        qn(model._meta.pk.column),
    )
    rows = [
        [*(f.get_db_prep_value(getattr(o, f.attname), connection) for f in fields), o.pk]
        for o in objs
    ]
    with connection.cursor() as cursor:
        for lo in range(0, len(rows), BATCH_SIZE):
            cursor.executemany(sql, rows[lo : lo + BATCH_SIZE])  # safe: see ``sql`` above


def demo_customers():
    return Customer.objects.filter(external_id__startswith=DEMO_PREFIX)


def demo_delete() -> dict[str, int]:
    """Delete the demo's rows: the DEMO- customers with everything hanging off them, the
    demo blueprints and activity types. Raises ``DemoSeedError`` when other data still
    uses a demo blueprint or activity type."""
    demo = demo_customers()
    deleted: dict[str, int] = {}

    def drop(label: str, qs) -> None:
        deleted[label] = qs.delete()[0]

    drop("charter events", CharterEvent.objects.filter(charter__customer__in=demo))
    drop("expectation overrides", ExpectationOverride.objects.filter(charter__customer__in=demo))
    drop("commitment overrides", CommitmentOverride.objects.filter(charter__customer__in=demo))
    drop("charters", Charter.objects.filter(customer__in=demo))
    drop("invoices", Invoice.objects.filter(customer__in=demo))
    drop("orders", Order.objects.filter(customer__in=demo).only("pk"))
    drop("support tickets", SupportTicket.objects.filter(customer__in=demo))
    drop("service activities", ServiceActivity.objects.filter(customer__in=demo))
    drop("feedback", Feedback.objects.filter(customer__in=demo))
    drop("referrals", Referral.objects.filter(referrer__in=demo))
    # A real customer's referral of a demo customer keeps the name once the link goes.
    Referral.objects.filter(referred__in=demo, referred_name="").update(
        referred_name=Subquery(Customer.objects.filter(pk=OuterRef("referred_id")).values("name"))
    )
    try:
        drop("customers", demo)
        drop("role blueprints", RoleBlueprint.objects.filter(name__in=BLUEPRINT_NAMES))
        drop("activity types", ActivityType.objects.filter(code__in=ACTIVITY_CODES))
    except (ProtectedError, RestrictedError) as exc:
        blocking = getattr(exc, "protected_objects", None) or exc.restricted_objects
        used = sorted({str(o) for o in blocking})[:5]
        raise DemoSeedError(
            "Demo blueprints or activity types are used by data that is not demo data "
            f"(e.g. {', '.join(used)}); remove that data or rename the blueprint first."
        ) from exc
    return deleted


def _write_reference(start: date, end: date, admin) -> tuple[list, list, dict[str, int]]:
    """Activity types with their rates, blueprints with expectations and commitments."""
    raised_on = _years_before(end, 1)
    types = ActivityType.objects.bulk_create(
        [
            ActivityType(code=code, name=name, kind=kind, unit=unit, description=text)
            for code, name, kind, unit, text, _, _ in ACTIVITY_TYPES
        ]
    )
    rates = ActivityRate.objects.bulk_create(
        [
            ActivityRate(activity_type=t, effective_from=day, unit_cost=Decimal(cost))
            for t, spec in zip(types, ACTIVITY_TYPES, strict=True)
            for day, cost in ((start, spec[5]), (raised_on, spec[6]))
        ]
    )
    blueprints = RoleBlueprint.objects.bulk_create(
        [
            RoleBlueprint(
                created_by=admin,
                **{
                    key: Decimal(value) if isinstance(value, str) and key != "name" else value
                    for key, value in spec.items()
                    if key not in ("expectations", "description", "cross_sell_products")
                },
                description=spec["description"],
                cross_sell_products=spec["cross_sell_products"],
            )
            for spec in BLUEPRINTS
        ]
    )
    expectations = []
    for bp, spec in zip(blueprints, BLUEPRINTS, strict=True):
        for stage in LifecycleStage:
            rule = spec["expectations"][stage]
            if isinstance(rule, str):
                expectations.append(
                    LifecycleExpectation(
                        blueprint=bp, stage=stage, excluded=True, exclusion_reason=rule
                    )
                )
            else:
                metric, target, weight = rule
                expectations.append(
                    LifecycleExpectation(
                        blueprint=bp,
                        stage=stage,
                        metric=metric,
                        target=Decimal(target),
                        direction=Direction.AT_LEAST,
                        weight=Decimal(weight),
                        metric_params=EXPECTATION_PARAMS.get(stage, {}),
                    )
                )
    LifecycleExpectation.objects.bulk_create(expectations, batch_size=BATCH_SIZE)
    commitments = [
        Commitment(
            blueprint=bp,
            kind=kind,
            title=title,
            description=text,
            metric=metric,
            target=Decimal(target) if target is not None else None,
            direction=direction or Direction.AT_LEAST,
            yearly_cost=Decimal(cost),
            metric_params=COMMITMENT_PARAMS.get((k, kind), {}),
        )
        for k, (bp, specs) in enumerate(zip(blueprints, COMMITMENTS, strict=True))
        for kind, title, text, metric, target, direction, cost in specs
    ]
    Commitment.objects.bulk_create(commitments, batch_size=BATCH_SIZE)
    counts = {
        "activity types": len(types),
        "activity rates": len(rates),
        "role blueprints": len(blueprints),
        "lifecycle expectations": len(expectations),
        "commitments": len(commitments),
    }
    return types, blueprints, counts


def _write(plan: _Plan, users: dict[str, object]) -> dict[str, int]:
    days = [plan.start + timedelta(days=k) for k in range(plan.horizon + 1)]
    midnight = datetime.combine(plan.start, datetime.min.time(), tzinfo=UTC)
    types, blueprints, counts = _write_reference(plan.start, plan.end, users.get("admin"))
    managers = [users[name].pk for name in ACCOUNT_MANAGERS]

    # customers
    c = {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in plan.customers.items()}
    n = len(c["name"])
    customers = _insert(
        Customer,
        n,
        lambda i: Customer(
            external_id=f"{DEMO_PREFIX}C{i + 1:05d}",
            name=c["name"][i],
            segment=SEGMENTS[c["segment"][i]],
            industry=INDUSTRIES[c["industry"][i]][0],
            acquisition_channel=CHANNELS[c["channel"][i]],
            sales_rep=SALES_REPS[c["rep"][i]] if c["rep"][i] >= 0 else "",
            acquired_on=days[c["acquired"][i]],
            acquisition_cost=_money(c["acquisition_cost"][i]),
            sales_bonus=_money(c["bonus"][i]),
            account_manager_id=managers[c["manager"][i]] if c["manager"][i] >= 0 else None,
            status=c["status"][i],
        ),
        keep=True,
    )
    customer_pk = _pks_by_external_id(Customer, customers)
    del customers
    counts["customers"] = n

    # orders and their invoices
    o = {k: v.tolist() for k, v in plan.orders.items()}
    kinds = ("first", "repeat", "upgrade", "cross_sell")
    n_orders = len(o["customer"])
    orders = _insert(
        Order,
        n_orders,
        lambda j: Order(
            external_id=f"{DEMO_PREFIX}O{j + 1:07d}",
            customer_id=customer_pk[o["customer"][j]],
            date=days[o["day"][j]],
            revenue=_money(o["revenue"][j]),
            cost=_money(o["cost"][j]),
            category=CATEGORIES[o["category"][j]],
            kind=kinds[o["kind"][j]],
        ),
        keep=True,
    )
    order_pk = _pks_by_external_id(Order, orders)
    del orders
    counts["orders"] = n_orders
    paid = plan.invoices["paid_day"].tolist()
    _insert(
        Invoice,
        n_orders,
        lambda j: Invoice(
            external_id=f"{DEMO_PREFIX}I{j + 1:07d}",
            customer_id=customer_pk[o["customer"][j]],
            order_id=order_pk[j],
            issued_on=days[o["day"][j]],
            due_on=days[o["day"][j]] + timedelta(days=30),
            paid_on=days[paid[j]] if paid[j] >= 0 else None,
            amount=_money(o["revenue"][j]),
        ),
    )
    counts["invoices"] = n_orders

    # support tickets
    t = {k: v.tolist() for k, v in plan.tickets.items()}

    def at(minutes: int):
        return midnight + timedelta(minutes=minutes) if minutes >= 0 else None

    _insert(
        SupportTicket,
        len(t["customer"]),
        lambda j: SupportTicket(
            external_id=f"{DEMO_PREFIX}T{j + 1:06d}",
            customer_id=customer_pk[t["customer"][j]],
            opened_at=at(t["opened"][j]),
            first_response_at=at(t["response"][j]),
            resolved_at=at(t["resolved"][j]),
            priority=TICKET_PRIORITIES[t["priority"][j]],
            channel=TICKET_CHANNELS[t["channel"][j]],
            is_complaint=t["complaint"][j],
            csat=t["csat"][j] or None,
            subject=(COMPLAINT_SUBJECTS if t["complaint"][j] else TICKET_SUBJECTS)[t["subject"][j]],
        ),
    )
    counts["support tickets"] = len(t["customer"])

    # service activities
    a = {k: v.tolist() for k, v in plan.activities.items()}
    _insert(
        ServiceActivity,
        len(a["customer"]),
        lambda j: ServiceActivity(
            external_id=f"{DEMO_PREFIX}A{j + 1:07d}",
            customer_id=customer_pk[a["customer"][j]],
            activity_type=types[a["type"][j]],
            date=days[a["day"][j]],
            quantity=Decimal(a["quantity"][j]),
            amount=_money(a["amount"][j]),
        ),
    )
    counts["service activities"] = len(a["customer"])

    # referrals
    r = plan.referrals
    _insert(
        Referral,
        len(r),
        lambda j: Referral(
            external_id=f"{DEMO_PREFIX}R{j + 1:06d}",
            referrer_id=customer_pk[r[j][0]],
            date=days[r[j][1]],
            referred_id=customer_pk[r[j][2]] if r[j][2] is not None else None,
            referred_name=r[j][3],
        ),
    )
    counts["referrals"] = len(r)

    # feedback
    f = {k: v.tolist() for k, v in plan.feedback.items()}
    feedback_kinds = ("survey", "nps", "interview", "suggestion")
    _insert(
        Feedback,
        len(f["customer"]),
        lambda j: Feedback(
            external_id=f"{DEMO_PREFIX}F{j + 1:06d}",
            customer_id=customer_pk[f["customer"][j]],
            date=days[f["day"][j]],
            kind=feedback_kinds[f["kind"][j]],
            score=f["score"][j] if f["score"][j] >= 0 else None,
            insight=INSIGHTS[f["insight"][j]] if f["insight"][j] >= 0 else "",
        ),
    )
    counts["feedback"] = len(f["customer"])

    # charters, their history, and the dates the history happened on
    ch = plan.charters
    charters = _insert(
        Charter,
        len(ch),
        lambda j: Charter(
            customer_id=customer_pk[ch[j]["customer"]],
            blueprint=blueprints[ch[j]["blueprint"]],
            version=ch[j]["version"],
            status=ch[j]["status"],
            agreed_on=next(
                (days[day] for status, day, _ in ch[j]["steps"] if status == "agreed"), None
            ),
            agreed_by=ch[j]["agreed_by"] if ch[j]["status"] in ("agreed", "superseded") else "",
            notes=ch[j]["notes"] if ch[j]["status"] != "draft" else "",
            created_by_id=managers[ch[j]["by"]] if ch[j]["by"] >= 0 else None,
        ),
        keep=True,
    )
    if any(x.pk is None for x in charters):
        found = {
            (cu, v): pk
            for cu, v, pk in Charter.objects.filter(customer__in=demo_customers()).values_list(
                "customer_id", "version", "pk"
            )
        }
        for x in charters:
            x.pk = x.id = found[(x.customer_id, x.version)]
    events = []
    for x, spec in zip(charters, ch, strict=True):
        steps = spec["steps"]
        x.created_at = midnight + timedelta(days=steps[0][1], minutes=steps[0][2])
        x.updated_at = midnight + timedelta(days=steps[-1][1], minutes=steps[-1][2])
        by = managers[spec["by"]] if spec["by"] >= 0 else None
        previous = ""
        for status, day, minute in steps:
            action = "created" if not previous else status
            events.append(
                CharterEvent(
                    charter_id=x.pk,
                    by_id=by,
                    action=action,
                    from_status=previous,
                    to_status=status,
                    detail={"version": spec["version"], "source": "seed_demo"},
                    at=midnight + timedelta(days=day, minutes=minute),
                )
            )
            previous = status
    counts["charters"] = len(charters)
    happened = [e.at for e in events]
    CharterEvent.objects.bulk_create(events, batch_size=BATCH_SIZE)
    # Inserting stamped these "now" (auto_now_add); put back when it all happened.
    for event, at in zip(events, happened, strict=True):
        event.at = at
    _restamp(Charter, ["created_at", "updated_at"], charters)
    _restamp(CharterEvent, ["at"], events)
    counts["charter events"] = len(events)
    return counts


def demo_seed(
    *,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    end: date | None = None,
    if_empty: bool = False,
) -> SeedResult:
    """Build (or rebuild) the demo company. With ``if_empty``, do nothing when any
    customer exists."""
    began = timer.perf_counter()
    if customers < 1:
        raise DemoSeedError("The demo needs at least one customer.")
    if if_empty:
        existing = Customer.objects.count()
        if existing:
            return SeedResult(skipped=True, existing_customers=existing)
    end = end or timezone.localdate()
    users = {user.username: user for user in demo_users_ensure()}
    plan = _plan(customers, seed, end)
    with transaction.atomic():
        deleted = demo_delete()
        counts = _write(plan, users)
    return SeedResult(
        counts=counts,
        deleted=deleted,
        unprofitable=plan.unprofitable,
        seconds=timer.perf_counter() - began,
        start=plan.start,
        end=plan.end,
    )
