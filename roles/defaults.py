"""Sensible starting points for a new blueprint: one expectation per lifecycle stage and
one commitment per kind, each already measurable. An account manager edits from here
rather than from a blank page."""

from __future__ import annotations

from decimal import Decimal

EXPECTATION_DEFAULTS: dict[str, dict] = {
    "awareness": {
        "excluded": True,
        "exclusion_reason": "Awareness comes before the relationship; marketing measures it.",
    },
    "purchase": {"metric": "purchases_per_year", "target": Decimal("4")},
    "repeat_purchase": {"metric": "repeat_purchases_per_year", "target": Decimal("3")},
    "upgrade": {"metric": "upgrades_per_year", "target": Decimal("1")},
    "on_time_payment": {"metric": "on_time_payment_share", "target": Decimal("0.9")},
    "referrals": {"metric": "referrals_per_year", "target": Decimal("1")},
    "evangelizing": {"metric": "nps_promoter_share", "target": Decimal("0.5")},
    "forgiveness": {
        "metric": "forgiveness_share",
        "target": Decimal("0.7"),
        "metric_params": {"days": 90},
    },
    "feedback": {"metric": "surveys_per_year", "target": Decimal("2")},
    "long_term": {"metric": "tenure_months", "target": Decimal("24")},
    "high_margins": {"metric": "gross_margin_pct", "target": Decimal("30")},
}

COMMITMENT_DEFAULTS: list[dict] = [
    {
        "kind": "experience",
        "title": "Satisfied with every contact",
        "description": "Every ticket ends with a customer who would rate us 4 or 5.",
        "metric": "average_csat",
        "target": Decimal("4"),
    },
    {
        "kind": "service_level",
        "title": "Problems solved within two working days",
        "description": "90 % of tickets resolved within 16 business hours.",
        "metric": "resolved_within_target_share",
        "metric_params": {"hours": 16},
        "target": Decimal("0.9"),
    },
    {
        "kind": "listening",
        "title": "Business review twice a year",
        "description": "A structured review of the relationship with the customer's team.",
        "metric": "listening_sessions_per_year",
        "target": Decimal("2"),
        "yearly_cost": Decimal("800.00"),
    },
    {
        "kind": "response",
        "title": "First response within 4 business hours",
        "description": "95 % of tickets get a first response within 4 business hours.",
        "metric": "first_response_within_target_share",
        "metric_params": {"hours": 4},
        "target": Decimal("0.95"),
    },
    {
        "kind": "resolution",
        "title": "Complaints resolved within a day",
        "description": "Complaints go to a senior agent and are resolved within 8 business "
        "hours in 90 % of cases.",
        "metric": "resolved_within_target_share",
        "metric_params": {"hours": 8},
        "target": Decimal("0.9"),
    },
    {
        "kind": "preferred",
        "title": "A dedicated account manager",
        "description": "One named person who knows the account.",
        "metric": "dedicated_manager_assigned",
        "target": Decimal("1"),
        "yearly_cost": Decimal("12000.00"),
    },
    {
        "kind": "consistency",
        "title": "The same quality on every channel",
        "description": "Average CSAT differs by at most one point between channels.",
        "metric": "csat_spread_across_channels",
        "target": Decimal("1"),
        "direction": "at_most",
    },
    {
        "kind": "surprise",
        "title": "A surprise each year",
        "description": "Something the customer did not ask for: an invitation, a gift, a "
        "free extra.",
        "metric": "surprises_per_year",
        "target": Decimal("1"),
        "yearly_cost": Decimal("250.00"),
    },
]
