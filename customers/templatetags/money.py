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


@register.filter
def metric_value(value, unit: str = "") -> str:
    """A metric's value as people read it: shares as percentages, money with the
    currency, counts with at most two decimals."""
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    if unit == "money":
        return money(number)
    if unit == "share":
        return f"{(number * 100).quantize(Decimal('1'), rounding=ROUND_HALF_UP)} %"
    if unit == "%":
        return f"{number.quantize(Decimal('0.1'), rounding=ROUND_HALF_UP).normalize():f} %"
    text = f"{number.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def zip_self(values) -> list[tuple]:
    """["a", "b"] → [("a", "a"), ("b", "b")]: a list as select options."""
    return [(v, v) for v in values]


@register.filter
def full_names(rows) -> list[tuple]:
    """(pk, first, last) rows → (pk, "First Last") options."""
    return [(pk, f"{first} {last}".strip()) for pk, first, last in rows]
