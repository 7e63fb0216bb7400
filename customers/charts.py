"""Figures of the customer page: the economics waterfall and the history timeline."""

from __future__ import annotations

from collections import defaultdict
from html import escape

import plotly.graph_objects as go

from economics.charts import figure_dict

EVENT_COLOURS = {
    "Order": "#2b6cb0",
    "Invoice paid late": "#dd6b20",
    "Ticket": "#718096",
    "Complaint": "#c53030",
    "Activity": "#805ad5",
    "Concession": "#d69e2e",
    "Referral": "#2f855a",
    "Feedback": "#319795",
}


def economics_waterfall(score, *, currency: str) -> dict:
    """Revenue → margin → cost to serve by component → acquisition → profit to date →
    predicted future value → CLV."""
    f = float
    steps = [
        ("Revenue", f(score.revenue), "absolute"),
        ("Cost of goods", -(f(score.revenue) - f(score.gross_margin)), "relative"),
        ("Gross margin", f(score.gross_margin), "total"),
        ("Activities", -f(score.cost_activities), "relative"),
        ("Tickets", -f(score.cost_tickets), "relative"),
        ("Complaints", -f(score.cost_complaints), "relative"),
        ("Concessions", -f(score.cost_concessions), "relative"),
        ("Collection", -f(score.cost_collection), "relative"),
        ("Commitments", -f(score.cost_commitments), "relative"),
        ("Acquisition", -f(score.acquisition_cost), "relative"),
        ("Profit to date", f(score.profit_to_date), "total"),
        ("Predicted future value", f(score.predicted_future_value), "relative"),
        ("CLV", f(score.clv), "total"),
    ]
    fig = go.Figure(
        go.Waterfall(
            x=[s[0] for s in steps],
            y=[s[1] if s[2] != "total" else 0 for s in steps],
            measure=[s[2] for s in steps],
            text=[f"{round(s[1]):,}" for s in steps],
            textposition="outside",
            connector={"line": {"color": "#cbd5e0"}},
            increasing={"marker": {"color": "#2f855a"}},
            decreasing={"marker": {"color": "#c53030"}},
            totals={"marker": {"color": "#2b6cb0"}},
            hovertemplate="%{x}: %{y:,.2f} " + currency + "<extra></extra>",
        )
    )
    fig.update_layout(
        title="From revenue to lifetime value", yaxis_title=currency, height=380,
        showlegend=False,
    )  # fmt: skip
    return figure_dict(fig)


def history_timeline(events: list[dict]) -> dict:
    """Every event of the relationship on one time axis, one row per kind."""
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        by_kind[event["kind"]].append(event)
    fig = go.Figure()
    for kind, colour in EVENT_COLOURS.items():
        rows = by_kind.get(kind)
        if not rows:
            continue
        fig.add_scatter(
            x=[e["date"].isoformat() for e in rows],
            y=[kind] * len(rows),
            mode="markers",
            name=kind,
            marker={"color": colour, "size": 10, "line": {"width": 1, "color": "#fff"}},
            # plotly draws tags in text as markup: escaped, a label shows what was typed.
            text=[escape(e["label"]) for e in rows],
            hovertemplate="%{x|%d %b %Y}: %{text}<extra></extra>",
        )
    fig.update_layout(
        title="The relationship so far", height=320, showlegend=False,
        yaxis={"categoryorder": "array", "categoryarray": list(EVENT_COLOURS)[::-1]},
    )  # fmt: skip
    return figure_dict(fig)
