"""Business hours between timestamps, vectorised, as help-desk SLA tools count them.

A company calendar has working weekdays, one opening window per working day and a list
of holidays. ``business_hours_between`` counts only the working time between two
instants in the calendar's local time: a ticket opened Friday 16:00 and answered Monday
10:00 in a 9–17 calendar waited 1 + 1 = 2 business hours.

Plain numpy: no Django import, so it can be tested and benchmarked alone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
EPOCH = np.datetime64("2000-01-03", "D")  # a Monday, before any data


@dataclass(frozen=True)
class BusinessCalendar:
    opens: dt.time = dt.time(9, 0)
    closes: dt.time = dt.time(17, 0)
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    holidays: tuple[dt.date, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError("A working day must close after it opens.")
        if not self.weekdays or any(d not in range(7) for d in self.weekdays):
            raise ValueError("Working weekdays are numbers 0 (Monday) to 6 (Sunday).")

    @property
    def weekmask(self) -> str:
        return "".join("1" if i in self.weekdays else "0" for i in range(7))

    @property
    def day_seconds(self) -> int:
        return _seconds(self.closes) - _seconds(self.opens)

    @property
    def holiday_array(self) -> np.ndarray:
        return np.array(sorted(self.holidays), dtype="datetime64[D]")


def _seconds(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _working_seconds_since_epoch(local: np.ndarray, cal: BusinessCalendar) -> np.ndarray:
    """Working seconds from EPOCH up to each local timestamp (datetime64[s])."""
    days = local.astype("datetime64[D]")
    full_days = np.busday_count(EPOCH, days, weekmask=cal.weekmask, holidays=cal.holiday_array)
    second_of_day = (local - days).astype("timedelta64[s]").astype(np.int64)
    within = np.clip(second_of_day - _seconds(cal.opens), 0, cal.day_seconds)
    is_workday = np.is_busday(days, weekmask=cal.weekmask, holidays=cal.holiday_array)
    return full_days * cal.day_seconds + np.where(is_workday, within, 0)


def business_hours_between(
    start_local: np.ndarray, end_local: np.ndarray, cal: BusinessCalendar
) -> np.ndarray:
    """Business hours from each start to each end (both naive local datetime64 arrays).
    NaT in either gives NaN; an end before its start gives 0."""
    start = np.asarray(start_local, dtype="datetime64[s]")
    end = np.asarray(end_local, dtype="datetime64[s]")
    missing = np.isnat(start) | np.isnat(end)
    safe_start = np.where(missing, EPOCH.astype("datetime64[s]"), start)
    safe_end = np.where(missing, EPOCH.astype("datetime64[s]"), end)
    seconds = _working_seconds_since_epoch(safe_end, cal) - _working_seconds_since_epoch(
        safe_start, cal
    )
    hours = np.maximum(seconds, 0) / 3600.0
    return np.where(missing, np.nan, hours)
