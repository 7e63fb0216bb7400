"""Consistency checks of a role blueprint, shown while it is edited.

Plain Python over plain values (no Django): the targets of a blueprint, its
expectations and its commitments. Each finding says what does not add up in words an
account manager understands.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

DANGER, WARNING, INFO = "danger", "warning", "info"


@dataclass(frozen=True)
class Finding:
    level: str
    message: str


def _d(value) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _n(value: Decimal) -> str:
    """4.0000 → 4; 0.50 → 0.5."""
    return format(value.normalize(), "f")


def check_blueprint(
    targets: dict, expectations: list[dict], commitments: list[dict], *, currency: str = ""
) -> list[Finding]:
    """``targets``: the blueprint's quantitative targets by field name;
    ``expectations``: dicts with stage, metric, target, weight, excluded;
    ``commitments``: dicts with title, yearly_cost."""
    found: list[Finding] = []
    money = (lambda v: f"{currency} {v:,.0f}".strip()) if currency else (lambda v: f"{v:,.0f}")

    annual = _d(targets.get("annual_value"))
    lifetime = _d(targets.get("lifetime_value"))
    months = _d(targets.get("relationship_length_months"))
    purchases = _d(targets.get("purchases_per_year"))
    per_purchase = _d(targets.get("purchase_value"))

    if annual is not None and lifetime is not None and months:
        implied = annual * months / 12
        if implied and abs(lifetime - implied) > Decimal("0.25") * implied:
            found.append(
                Finding(
                    WARNING,
                    f"Lifetime value {money(lifetime)} does not match annual value × "
                    f"relationship length ({money(annual)} × {_n(months)} months = "
                    f"{money(implied)}).",
                )
            )

    if annual is not None and purchases is not None and per_purchase is not None:
        revenue = purchases * per_purchase
        if annual > revenue:
            found.append(
                Finding(
                    DANGER,
                    f"Annual value (gross margin) {money(annual)} is more than the revenue "
                    f"the purchases bring: {_n(purchases)} × {money(per_purchase)} = "
                    f"{money(revenue)}. Margin cannot exceed revenue.",
                )
            )
        elif revenue:
            found.append(
                Finding(
                    INFO,
                    f"These targets imply a gross margin of {annual / revenue * 100:.0f} % "
                    f"on {money(revenue)} of purchases a year.",
                )
            )

    cost = sum((_d(c.get("yearly_cost")) or Decimal(0)) for c in commitments)
    if annual is not None and cost:
        if cost >= annual:
            found.append(
                Finding(
                    DANGER,
                    f"Our commitments cost {money(cost)} a year, more than the "
                    f"{money(annual)} this customer is expected to bring: this role is a "
                    "loss by design.",
                )
            )
        elif cost > annual / 2:
            found.append(
                Finding(
                    WARNING,
                    f"Our commitments cost {money(cost)} a year, "
                    f"{cost / annual * 100:.0f} % of the expected annual value.",
                )
            )

    measured = [e for e in expectations if not e.get("excluded")]
    if not measured:
        found.append(Finding(DANGER, "No expectation is measured: the role cannot be scored."))
    elif all((_d(e.get("weight")) or 0) == 0 for e in measured):
        found.append(Finding(DANGER, "Every expectation has weight 0: the role fit is undefined."))
    for e in expectations:
        if e.get("excluded") and not (e.get("exclusion_reason") or "").strip():
            found.append(Finding(DANGER, f"“{e['stage_label']}” is left out without a reason."))

    by_metric = {e.get("metric"): _d(e.get("target")) for e in measured}
    if purchases is not None:
        repeat = by_metric.get("repeat_purchases_per_year")
        if repeat is not None and repeat > purchases:
            found.append(
                Finding(
                    WARNING,
                    f"Expecting {_n(repeat)} repeat purchases a year but only {_n(purchases)} "
                    "purchases in all.",
                )
            )
        expected = by_metric.get("purchases_per_year")
        if expected is not None and expected != purchases:
            found.append(
                Finding(
                    INFO,
                    f"The purchase expectation ({_n(expected)} a year) differs from the "
                    f"quantitative target ({_n(purchases)} a year).",
                )
            )
    referrals = _d(targets.get("referrals_per_year"))
    expected_referrals = by_metric.get("referrals_per_year")
    if referrals is not None and expected_referrals is not None and expected_referrals != referrals:
        found.append(
            Finding(
                INFO,
                f"The referrals expectation ({_n(expected_referrals)} a year) differs from the "
                f"quantitative target ({_n(referrals)} a year).",
            )
        )
    return found
