from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template
from django.conf import settings

register = template.Library()


@register.filter
def money(value, places: int = 0) -> str:
    """``12345.6`` → ``EUR 12,346``; negatives keep their sign; empty stays a dash."""
    if value is None or value == "":
        return "—"
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    quantum = Decimal(1).scaleb(-int(places))
    amount = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "−" if amount < 0 else ""
    return f"{sign}{settings.TANGO_CURRENCY} {abs(amount):,.{int(places)}f}"
