"""Business hours, worked out by hand on a 9–17, Monday-to-Friday calendar with
Christmas Day 2024 (a Wednesday) as a holiday."""

import datetime as dt

import numpy as np
import pytest

from economics.metrics.calendar import BusinessCalendar, business_hours_between

CAL = BusinessCalendar(holidays=(dt.date(2024, 12, 25),))


def hours(start: str, end: str | None) -> float:
    s = np.array([start], dtype="datetime64[s]")
    e = np.array([end or "NaT"], dtype="datetime64[s]")
    return float(business_hours_between(s, e, CAL)[0])


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Friday 16:00 → Monday 10:00: one hour on Friday, one on Monday.
        ("2024-03-01T16:00", "2024-03-04T10:00", 2.0),
        # Opened on a Saturday: the clock starts Monday 09:00.
        ("2024-03-02T12:00", "2024-03-04T10:30", 1.5),
        # Tuesday 16:30 → Thursday 09:30 across the Christmas holiday.
        ("2024-12-24T16:30", "2024-12-26T09:30", 1.0),
        # Before opening to midday: 09:00–12:00.
        ("2024-03-04T08:00", "2024-03-04T12:00", 3.0),
        # After closing to before opening: nothing.
        ("2024-03-04T18:00", "2024-03-05T08:00", 0.0),
        # A whole working week.
        ("2024-03-04T09:00", "2024-03-11T09:00", 40.0),
        # An end before the start counts as zero, never negative.
        ("2024-03-05T10:00", "2024-03-04T10:00", 0.0),
    ],
)
def test_business_hours_between(start, end, expected):
    assert hours(start, end) == pytest.approx(expected)


def test_a_missing_end_gives_no_figure():
    assert np.isnan(hours("2024-03-04T10:00", None))


def test_many_at_once_match_one_at_a_time():
    starts = np.array(["2024-03-01T16:00", "2024-12-24T16:30"], dtype="datetime64[s]")
    ends = np.array(["2024-03-04T10:00", "2024-12-26T09:30"], dtype="datetime64[s]")
    assert business_hours_between(starts, ends, CAL).tolist() == [2.0, 1.0]


def test_a_weekend_shift_calendar():
    sat_sun = BusinessCalendar(opens=dt.time(10), closes=dt.time(14), weekdays=(5, 6))
    s = np.array(["2024-03-01T09:00"], dtype="datetime64[s]")  # a Friday
    e = np.array(["2024-03-04T09:00"], dtype="datetime64[s]")  # the Monday after
    assert business_hours_between(s, e, sat_sun)[0] == pytest.approx(8.0)


def test_a_calendar_must_close_after_it_opens():
    with pytest.raises(ValueError, match="close after"):
        BusinessCalendar(opens=dt.time(17), closes=dt.time(9))
