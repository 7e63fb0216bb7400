from __future__ import annotations

from economics.metrics.calendar import BusinessCalendar

from .models import ServiceCalendar


def business_calendar() -> BusinessCalendar:
    """The company calendar in use (the first one), or 9–17 Monday to Friday."""
    cal = ServiceCalendar.objects.prefetch_related("holidays").order_by("pk").first()
    if cal is None:
        return BusinessCalendar()
    return BusinessCalendar(
        opens=cal.opens,
        closes=cal.closes,
        weekdays=tuple(sorted(int(c) for c in cal.working_days)),
        holidays=tuple(h.date for h in cal.holidays.all()),
    )
