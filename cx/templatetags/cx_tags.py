from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def percent(value) -> str:
    """``0.2345`` → ``23 %``; empty stays a dash."""
    if value is None or value == "":
        return "—"
    try:
        return f"{float(value) * 100:.0f} %"
    except (TypeError, ValueError):
        return str(value)
