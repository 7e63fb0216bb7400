"""Small functions that turn selector rows into plotly figures (as plain dicts that
reach the page through ``json_script``)."""

from __future__ import annotations

import json

import plotly.graph_objects as go

PALETTE = {"revenue": "#2b6cb0", "margin": "#2f855a", "loss": "#c53030"}


def figure_dict(fig: go.Figure) -> dict:
    fig.update_layout(
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        template="plotly_white",
        font={"family": "system-ui, sans-serif", "size": 12},
        legend={"orientation": "h", "y": -0.2},
    )
    return json.loads(fig.to_json())


def monthly_sales_figure(rows: list[dict], *, currency: str) -> dict:
    months = [r["month"].strftime("%Y-%m") for r in rows]
    fig = go.Figure()
    fig.add_bar(
        x=months,
        y=[float(r["revenue"]) for r in rows],
        name="Revenue",
        marker_color=PALETTE["revenue"],
    )
    fig.add_scatter(
        x=months,
        y=[float(r["margin"]) for r in rows],
        name="Gross margin",
        mode="lines+markers",
        line={"color": PALETTE["margin"], "width": 3},
    )
    fig.update_layout(
        title="Revenue and gross margin per month",
        yaxis_title=currency,
        hovermode="x unified",
        height=340,
    )
    return figure_dict(fig)


def holdout_figure(holdout: dict) -> dict:
    """Cumulative repeat purchases after the as-of date: what the model predicted and
    what happened."""
    tracking = holdout["tracking"]
    fig = go.Figure()
    fig.add_scatter(
        x=tracking["week"], y=tracking["actual"], name="Actual", mode="lines",
        line={"color": PALETTE["revenue"], "width": 3},
    )  # fmt: skip
    fig.add_scatter(
        x=tracking["week"], y=tracking["predicted"], name="Predicted", mode="lines",
        line={"color": PALETTE["margin"], "width": 3, "dash": "dash"},
    )  # fmt: skip
    fig.update_layout(
        title="Repeat purchases after the as-of date, cumulative",
        xaxis_title="weeks after the as-of date",
        yaxis_title="repeat purchases",
        height=340,
    )
    return figure_dict(fig)
