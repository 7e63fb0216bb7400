"""Every metric of the catalogue on hand-made data, the expected numbers worked out by
hand. As of 31 Dec 2024, "the last 12 months" is 1 Jan – 31 Dec 2024."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from economics.metrics import METRICS, BusinessCalendar, MetricData, get_metric
from economics.metrics.scoring import attainment, weighted_score

AS_OF = dt.date(2024, 12, 31)
OLD, NEW = 1, 2  # an old customer (since 2023) and a new one (since 2 Oct 2024)


def data(**frames) -> MetricData:
    empty = {
        "orders": ["customer_id", "date", "revenue", "cost", "kind", "category"],
        "invoices": ["customer_id", "issued_on", "due_on", "paid_on", "amount"],
        "tickets": [
            "customer_id", "opened_at", "first_response_at", "resolved_at", "channel",
            "is_complaint", "csat",
        ],
        "activities": ["customer_id", "date", "kind", "quantity"],
        "referrals": ["customer_id", "date"],
        "feedback": ["customer_id", "date", "score", "has_insight"],
    }  # fmt: skip
    built = {}
    for name, columns in empty.items():
        frame = pd.DataFrame(frames.get(name, []), columns=columns)
        for col in columns:
            if col in {"date", "issued_on", "due_on", "paid_on"} or col.endswith("_at"):
                frame[col] = pd.to_datetime(frame[col])
        built[name] = frame
    built["tickets"]["csat"] = built["tickets"]["csat"].astype("float64")
    built["tickets"]["is_complaint"] = built["tickets"]["is_complaint"].astype(bool)
    built["feedback"]["score"] = built["feedback"]["score"].astype("float64")
    built["feedback"]["has_insight"] = built["feedback"]["has_insight"].astype(bool)
    customers = pd.DataFrame(
        {
            "acquired_on": pd.to_datetime(["2023-01-01", "2024-10-02"]),
            "has_account_manager": [True, False],
        },
        index=pd.Index([OLD, NEW], name="id"),
    )
    return MetricData(
        as_of=AS_OF,
        customers=customers,
        calendar=BusinessCalendar(holidays=(dt.date(2024, 12, 25),)),
        **built,
    )


ORDERS = [
    (OLD, "2023-06-01", 1000.0, 600.0, "first", "Hardware"),
    (OLD, "2024-02-10", 500.0, 300.0, "repeat", "Hardware"),
    (OLD, "2024-02-10", 200.0, 100.0, "cross_sell", "Software"),  # same day: one purchase
    (OLD, "2024-07-01", 800.0, 400.0, "upgrade", "Services"),
    (NEW, "2024-10-02", 300.0, 200.0, "first", "Hardware"),
    (NEW, "2024-11-15", 300.0, 200.0, "repeat", "Hardware"),
]


def value(key: str, frames: dict, customer: int = OLD, **params) -> float:
    return float(get_metric(key)(data(**frames), params)[customer])


def test_purchases_per_year_counts_purchase_days():
    # Old customer: 10 Feb and 1 Jul 2024 in the last 12 months → 2 a year.
    assert value("purchases_per_year", {"orders": ORDERS}) == pytest.approx(2.0)
    # New customer: 2 purchases in the 91 days since 2 Oct → 2 / (91/365) a year.
    assert value("purchases_per_year", {"orders": ORDERS}, NEW) == pytest.approx(2 * 365 / 91)


def test_repeat_purchases_leave_out_the_first():
    assert value("repeat_purchases_per_year", {"orders": ORDERS}) == pytest.approx(2.0)
    assert value("repeat_purchases_per_year", {"orders": ORDERS}, NEW) == pytest.approx(365 / 91)


def test_average_order_value():
    assert value("average_order_value", {"orders": ORDERS}) == pytest.approx(2500 / 4)


def test_annual_value_is_last_twelve_months_margin():
    assert value("annual_value", {"orders": ORDERS}) == pytest.approx(200 + 100 + 400)


def test_growth_of_annual_value():
    # 2024: 700; 2023: 400 → +75 %.
    assert value("annual_value_growth_pct", {"orders": ORDERS}) == pytest.approx(75.0)
    # Nothing the year before: no figure rather than infinity.
    assert np.isnan(value("annual_value_growth_pct", {"orders": ORDERS}, NEW))


def test_upgrades_and_cross_sold_categories():
    assert value("upgrades_per_year", {"orders": ORDERS}) == pytest.approx(1.0)
    assert value("cross_sold_categories", {"orders": ORDERS}) == 2  # Hardware + 2 more
    assert value("cross_sold_categories", {"orders": ORDERS}, NEW) == 0


def test_gross_margin_percent():
    assert value("gross_margin_pct", {"orders": ORDERS}) == pytest.approx(1100 / 2500 * 100)


def test_tenure_in_months():
    # 1 Jan 2023 to the end of 31 Dec 2024: 731 days.
    assert value("tenure_months", {}) == pytest.approx(731 / (365 / 12))


INVOICES = [
    (OLD, "2024-02-01", "2024-03-01", "2024-02-25", 100.0),  # on time
    (OLD, "2024-07-01", "2024-08-01", "2024-08-11", 100.0),  # 10 days late
    (OLD, "2024-11-01", "2024-12-01", None, 100.0),  # unpaid: 30 days late by 31 Dec
    (OLD, "2024-12-15", "2025-01-15", None, 100.0),  # not due yet: not judged
]


def test_on_time_payment_share():
    assert value("on_time_payment_share", {"invoices": INVOICES}) == pytest.approx(1 / 3)
    assert np.isnan(value("on_time_payment_share", {"invoices": INVOICES}, NEW))


def test_average_days_late():
    assert value("average_days_late", {"invoices": INVOICES}) == pytest.approx(40 / 3)


def test_referrals_per_year():
    referrals = [(OLD, "2024-03-01"), (OLD, "2024-09-01"), (OLD, "2023-05-01")]
    assert value("referrals_per_year", {"referrals": referrals}) == pytest.approx(2.0)


FEEDBACK = [
    (OLD, "2024-04-01", 9, True),
    (OLD, "2024-10-01", 6, False),
    (OLD, "2023-03-01", 10, True),  # older than a year
]


def test_surveys_insights_and_promoters():
    assert value("surveys_per_year", {"feedback": FEEDBACK}) == pytest.approx(2.0)
    assert value("insights_per_year", {"feedback": FEEDBACK}) == pytest.approx(1.0)
    assert value("nps_promoter_share", {"feedback": FEEDBACK}) == pytest.approx(0.5)


def ticket(opened, response=None, resolved=None, channel="email", complaint=False, csat=None):
    return (OLD, opened, response, resolved, channel, complaint, csat)


def test_forgiveness_counts_complaints_followed_by_a_purchase():
    tickets = [
        ticket("2024-02-01 10:00", complaint=True),  # bought again on 10 Feb: forgiven
        ticket("2024-07-15 10:00", complaint=True),  # no purchase within 90 days
        ticket("2024-12-01 10:00", complaint=True),  # too recent to judge
        ticket("2024-03-01 10:00"),  # not a complaint
    ]
    frames = {"orders": ORDERS, "tickets": tickets}
    assert value("forgiveness_share", frames, days=90) == pytest.approx(0.5)
    # With a 10-day window the February complaint is forgiven too (10 Feb is day 9);
    # the 1 Dec complaint is now old enough and not forgiven: 1 of 3.
    assert value("forgiveness_share", frames, days=10) == pytest.approx(1 / 3)
    assert value("complaints_per_year", frames) == pytest.approx(3.0)


SLA_TICKETS = [
    # Fri 16:00 → Mon 10:00 = 2 business hours; resolved Tue 12:00 = 1 + 8 + 3 = 12 h.
    ticket("2024-03-01 16:00", "2024-03-04 10:00", "2024-03-05 12:00", "email", csat=5),
    # Mon 09:00 → 15:00 = 6 h (missed); resolved Fri 09:00 = 32 h (missed).
    ticket("2024-06-03 09:00", "2024-06-03 15:00", "2024-06-07 09:00", "phone", csat=2),
    # Mon 30 Dec 16:00, unanswered: 1 + 8 = 9 h so far — missed for a 4 h response,
    # not judged yet for a 24 h resolution.
    ticket("2024-12-30 16:00", None, None, "chat"),
    # Older than a year: outside the measure.
    ticket("2023-06-01 09:00", "2023-06-09 09:00", None, "email"),
]


def test_first_response_within_target_in_business_hours():
    share = value("first_response_within_target_share", {"tickets": SLA_TICKETS}, hours=4)
    assert share == pytest.approx(1 / 3)
    # With 10 hours both answered tickets are in time and the open one (9 h so far)
    # is not judged yet.
    generous = value("first_response_within_target_share", {"tickets": SLA_TICKETS}, hours=10)
    assert generous == pytest.approx(1.0)


def test_resolved_within_target_in_business_hours():
    share = value("resolved_within_target_share", {"tickets": SLA_TICKETS}, hours=24)
    assert share == pytest.approx(1 / 2)


def test_consistency_across_touch_points():
    frames = {"tickets": SLA_TICKETS}
    assert value("csat_spread_across_channels", frames) == pytest.approx(3.0)
    # Median first response: e-mail 2 h, phone 6 h (chat never answered).
    assert value("response_time_spread_across_channels", frames) == pytest.approx(4.0)
    assert value("average_csat", frames) == pytest.approx(3.5)


def test_listening_surprises_and_preferred_treatment():
    activities = [
        (OLD, "2024-03-01", "listening", 1.0),
        (OLD, "2024-09-01", "listening", 1.0),
        (OLD, "2023-01-15", "listening", 2.0),  # older than a year
        (OLD, "2024-05-05", "surprise", 1.0),
        (OLD, "2024-05-05", "service", 3.0),
        (NEW, "2024-11-01", "preferred", 1.0),
    ]
    frames = {"activities": activities}
    assert value("listening_sessions_per_year", frames) == pytest.approx(2.0)
    assert value("surprises_per_year", frames) == pytest.approx(1.0)
    assert value("preferred_treatments_per_year", frames, NEW) == pytest.approx(365 / 91)
    assert value("dedicated_manager_assigned", frames) == 1.0
    assert value("dedicated_manager_assigned", frames, NEW) == 0.0


def test_every_metric_runs_on_empty_data_and_returns_one_value_per_customer():
    empty = data()
    for metric in METRICS.values():
        result = metric(empty, {})
        assert list(result.index) == [OLD, NEW], metric.key


def test_every_metric_is_documented():
    for metric in METRICS.values():
        assert metric.name and metric.unit and len(metric.definition) > 30, metric.key
        assert metric.direction in {"at_least", "at_most"}
        assert bool(metric.stages) != bool(metric.commitment_kinds), metric.key


@pytest.mark.parametrize(
    ("actual", "target", "direction", "expected"),
    [
        (2, 4, "at_least", 0.5),
        (5, 4, "at_least", 1.0),
        (0, 0, "at_least", 1.0),
        (10, 5, "at_most", 0.5),
        (3, 5, "at_most", 1.0),
        (0, 0, "at_most", 1.0),
        (1, 0, "at_most", 0.0),
    ],
)
def test_attainment(actual, target, direction, expected):
    assert attainment([actual], target, direction)[0] == pytest.approx(expected)


def test_attainment_of_no_data_is_no_data():
    assert np.isnan(attainment([np.nan], 3, "at_least")[0])


def test_weighted_score_leaves_out_what_has_no_data():
    scores = weighted_score(np.array([[0.5, 1.0, np.nan], [np.nan] * 3]), np.array([1, 3, 2]))
    assert scores[0] == pytest.approx(100 * (0.5 * 1 + 1.0 * 3) / 4)
    assert np.isnan(scores[1])


def test_truncating_forgets_what_came_later():
    later = data(orders=ORDERS, invoices=INVOICES)
    earlier = later.truncate(dt.date(2024, 6, 30))
    # 30 Jun 2024: last 12 months hold only the 10 Feb purchase.
    assert get_metric("purchases_per_year")(earlier)[OLD] == pytest.approx(1.0)
    # The August invoice was not issued yet; the March one was paid on time.
    assert get_metric("on_time_payment_share")(earlier)[OLD] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="forward"):
        earlier.truncate(dt.date(2024, 12, 31))
