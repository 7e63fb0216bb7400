"""Small functions that turn selector rows into plotly figures (as plain dicts that
reach the page through ``json_script``)."""

from __future__ import annotations

import json
import math
from html import escape

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


# --- the executive dashboard ------------------------------------------------------------
# Figures as plain dicts (the dashboard draws ten of them, some with thousands of points:
# building them through plotly's validating classes would cost more than the queries).
# Each takes rows from ``economics.dashboard``; ``customdata[0]`` of a clickable bar or
# dot is the page a click opens (static/js/drilldown.js).

KLASS_COLOURS = {
    "partner": "#2f855a",
    "develop": "#2b6cb0",
    "fix_our_side": "#d69e2e",
    "reprice": "#dd6b20",
    "let_go": "#c53030",
    "no_role": "#a0aec0",
}
KLASS_NAMES = {
    "partner": "Partner",
    "develop": "Develop",
    "fix_our_side": "Fix our side",
    "reprice": "Reprice",
    "let_go": "Let go candidate",
    "no_role": "No role agreed",
}
GRID = "#e2e8f0"
INK = "#2d3748"
NO_ROLE_X = -12.0


def money_text(value: float | None, currency: str) -> str:
    """``-1234567.8`` → ``−EUR 1,234,568`` (hover labels)."""
    if value is None:
        return "—"
    sign = "−" if value <= -0.5 else ""
    return f"{sign}{currency} {abs(value):,.0f}"


def compact_money(value: float, currency: str) -> str:
    """``1234567`` → ``EUR 1.2M``: for sentences, tiles and bar labels."""
    sign = "−" if value < 0 else ""
    amount = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if amount >= limit * 0.9995:
            text = f"{amount / limit:,.1f}".removesuffix(".0")
            return f"{sign}{currency} {text}{suffix}"
    return f"{sign}{currency} {amount:,.0f}"


def _axis(title: str = "", **extra) -> dict:
    return {
        "title": {"text": title, "standoff": 8},
        "gridcolor": GRID,
        "linecolor": GRID,
        "zerolinecolor": "#a0aec0",
        "automargin": True,
        **extra,
    }


def _money_axis(title: str, currency: str, **extra) -> dict:
    return _axis(
        title, tickprefix=f"{currency} ", exponentformat="B", separatethousands=True, **extra
    )


def _layout(title: str, *, height: int = 360, **extra) -> dict:
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15, "color": INK}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 48, "b": 40},
        "font": {"family": "system-ui, -apple-system, 'Segoe UI', sans-serif", "size": 12,
                 "color": INK},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "hoverlabel": {"align": "left"},
        "hovermode": "closest",
        "showlegend": False,
        **extra,
    }  # fmt: skip


def _line(axis: str, at: float, *, dash: str = "dash") -> dict:
    """A full-width (``axis="y"``) or full-height (``"x"``) reference line."""
    other = "x" if axis == "y" else "y"
    return {
        "type": "line",
        "xref": "paper" if axis == "y" else "x",
        "yref": "paper" if axis == "x" else "y",
        f"{other}0": 0,
        f"{other}1": 1,
        f"{axis}0": at,
        f"{axis}1": at,
        "line": {"color": "#718096", "width": 1, "dash": dash},
    }


def whale_figure(curve: dict, *, currency: str) -> dict:
    """Cumulative profit to date (money) against the share of customers, best first."""
    x, y = curve["customers_pct"], curve["profit"]
    total = curve.get("total", 0.0)
    annotations = [
        {"x": 50, "y": total, "xref": "x", "yref": "y", "xanchor": "center", "yanchor": "top",
         "text": f"all customers together: {compact_money(total, currency)}",
         "showarrow": False, "font": {"color": "#4a5568"}},
    ]  # fmt: skip
    if y:
        peak = max(range(len(y)), key=y.__getitem__)
        earners = curve.get("earners_pct", x[peak])
        annotations.append(
            {"x": x[peak], "y": y[peak], "xref": "x", "yref": "y", "ax": 0, "ay": -26,
             "text": f"the top {math.floor(earners + 0.5)} % earn "  # as the page rounds
             f"{compact_money(y[peak], currency)}",
             "showarrow": True, "arrowhead": 0, "arrowcolor": "#2f855a",
             "font": {"color": "#2f855a"}}
        )  # fmt: skip
    trace = {
        "type": "scatter", "mode": "lines", "x": x, "y": y, "name": "Cumulative profit",
        "fill": "tozeroy", "fillcolor": "rgba(47,133,90,0.12)",
        "line": {"color": PALETTE["margin"], "width": 3},
        "customdata": [money_text(v, currency) for v in y],
        "hovertemplate": "the top %{x:.1f} % of customers: %{customdata}<extra></extra>",
    }  # fmt: skip
    return {
        "data": [trace],
        "layout": _layout(
            "Whale curve: where the profit is made and lost",
            xaxis=_axis("customers, most profitable first", ticksuffix=" %", range=[0, 100]),
            yaxis=_money_axis("cumulative profit to date", currency),
            shapes=[_line("y", total)],
            annotations=annotations,
        ),
    }


def short_number(value: float) -> str:
    """``-2500`` → ``−2.5k``: band labels on an axis."""
    return compact_money(value, "").replace(" ", "")


def distribution_figure(bins: list[dict], *, currency: str, losers_url: str, winners_url: str):
    """Customers per band of CLV (bands on a 1–2–5 ladder), losses in red. A click on a
    red bar lists the customers who lose money, on a green one the most valuable."""
    labels = [f"{short_number(b['low'])} to {short_number(b['high'])}" for b in bins]
    losing = [b["high"] <= 0 for b in bins]
    trace = {
        "type": "bar",
        "x": labels,
        "y": [b["customers"] for b in bins],
        "marker": {"color": [PALETTE["loss"] if lose else PALETTE["margin"] for lose in losing]},
        "customdata": [
            [losers_url if lose else winners_url,
             f"{money_text(b['low'], currency)} to {money_text(b['high'], currency)}",
             money_text(b["clv"], currency)]
            for b, lose in zip(bins, losing, strict=True)
        ],
        "hovertemplate": "CLV %{customdata[1]}<br>%{y:,} customers, worth %{customdata[2]} "
        "together<extra></extra>",
    }  # fmt: skip
    return {
        "data": [trace],
        "layout": _layout(
            "What customers are worth: customers per band of CLV",
            margin={"l": 60, "r": 20, "t": 48, "b": 90},
            xaxis=_axis(f"customer lifetime value ({currency})", type="category",
                        tickangle=-45),
            yaxis=_axis("customers", tickformat=",d"),
            bargap=0.08,
        ),
    }  # fmt: skip


def _signed_log(value: float) -> float:
    return math.copysign(math.log10(1 + abs(value)), value)


def _signed_log_ticks(values: list[float], currency: str) -> tuple[list[float], list[str]]:
    low = min(values, default=0.0)
    high = max(values, default=0.0)
    ticks = [0.0]
    for power in range(2, 10):
        step = 10.0**power
        if high >= step * 0.5:
            ticks.append(step)
        if low <= -step * 0.5:
            ticks.append(-step)
    ticks.sort()
    return [round(_signed_log(t), 4) for t in ticks], [compact_money(t, currency) for t in ticks]


def fit_figure(points: list[dict], *, threshold: float, currency: str) -> dict:
    """Role fit (x) against CLV (y, on a signed log scale), one colour per class;
    customers without an agreed role stand in a strip on the left."""
    traces = []
    for klass, colour in KLASS_COLOURS.items():
        mine = [p for p in points if p["klass"] == klass]
        if not mine:
            continue
        traces.append(
            {
                "type": "scatter", "mode": "markers", "name": KLASS_NAMES[klass],
                "x": [NO_ROLE_X if p["role_fit"] is None else round(p["role_fit"], 2)
                      for p in mine],
                "y": [round(_signed_log(p["clv"]), 4) for p in mine],
                "marker": {"color": colour, "size": 6, "opacity": 0.75,
                           "line": {"width": 0.5, "color": "#fff"}},
                "customdata": [
                    [p["url"], escape(p["name"]), money_text(p["clv"], currency),
                     "no role agreed" if p["role_fit"] is None else f"{p['role_fit']:.0f} / 100"]
                    for p in mine
                ],
                "hovertemplate": "<b>%{customdata[1]}</b><br>" + KLASS_NAMES[klass]
                + "<br>CLV %{customdata[2]}<br>role fit %{customdata[3]}<extra></extra>",
            }
        )  # fmt: skip
    ticks, labels = _signed_log_ticks([p["clv"] for p in points], currency)
    corner = {"xref": "paper", "yref": "paper", "showarrow": False, "font": {"size": 11}}
    return {
        "data": traces,
        "layout": _layout(
            "Role fit against lifetime value: one dot per customer",
            height=580,
            showlegend=True,
            legend={"orientation": "h", "y": -0.16, "x": 0},
            xaxis=_axis("role fit (0–100)", range=[NO_ROLE_X - 6, 102], zeroline=False,
                        tickvals=[NO_ROLE_X, 0, 20, 40, 60, 80, 100],
                        ticktext=["no role", "0", "20", "40", "60", "80", "100"]),
            yaxis=_axis("CLV (log scale)", tickvals=ticks, ticktext=labels, zeroline=False),
            shapes=[_line("x", threshold, dash="dot"), _line("y", 0, dash="solid")],
            annotations=[
                {**corner, "x": 1, "y": 1, "xanchor": "right", "yanchor": "top",
                 "text": "fits and pays: partner", "font": {"color": KLASS_COLOURS["partner"]}},
                {**corner, "x": 1, "y": 0, "xanchor": "right", "yanchor": "bottom",
                 "text": "fits, loses money: fix our side or reprice",
                 "font": {"color": KLASS_COLOURS["reprice"]}},
                {**corner, "x": 0.16, "y": 1, "xanchor": "left", "yanchor": "top",
                 "text": "pays, does not fit: develop",
                 "font": {"color": KLASS_COLOURS["develop"]}},
                {**corner, "x": 0.16, "y": 0, "xanchor": "left", "yanchor": "bottom",
                 "text": "neither: let go candidate", "font": {"color": KLASS_COLOURS["let_go"]}},
            ],
        ),
    }  # fmt: skip


def groups_figure(groups: list[dict], *, title: str, currency: str) -> dict:
    """Total profit to date and total CLV per group (segment, role)."""
    names = [escape(g["name"]) for g in groups]  # plotly reads tags in text
    traces = []
    for key, label, colour in (
        ("profit", "Profit to date", PALETTE["revenue"]),
        ("clv", "Lifetime value (CLV)", PALETTE["margin"]),
    ):
        traces.append({
            "type": "bar", "name": label, "x": names, "y": [g[key] for g in groups],
            "marker": {"color": colour},
            "text": [compact_money(g[key], currency) for g in groups],
            "textposition": "outside", "cliponaxis": False, "textfont": {"size": 11},
            "customdata": [
                [g["url"], money_text(g[key], currency), f"{g['unprofitable_share']:.0%}",
                 f"{g['customers']:,}"]
                for g in groups
            ],
            "hovertemplate": "<b>%{x}</b><br>" + label + " %{customdata[1]}<br>"
            "%{customdata[3]} customers, %{customdata[2]} of them unprofitable<extra></extra>",
        })  # fmt: skip
    return {
        "data": traces,
        "layout": _layout(
            title,
            showlegend=True,
            legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02,
                    "yanchor": "bottom"},
            barmode="group",
            uniformtext={"minsize": 10, "mode": "show"},
            xaxis=_axis(""),
            yaxis=_money_axis("", currency),
        ),
    }  # fmt: skip


def acquisition_figure(groups: list[dict], *, title: str, currency: str) -> dict:
    """Per sales rep or channel: the mean CLV of the customers won (left), and the
    bonuses paid on those who lose money (right)."""
    ordered = list(reversed(groups))  # the best at the top
    names = [escape(g["name"]) for g in ordered]
    left = {
        "type": "bar", "orientation": "h", "y": names, "x": [g["mean_clv"] for g in ordered],
        "xaxis": "x", "yaxis": "y",
        "marker": {"color": [PALETTE["loss"] if (g["mean_clv"] or 0) < 0 else PALETTE["margin"]
                             for g in ordered]},
        "customdata": [[g["url"], money_text(g["mean_clv"], currency), f"{g['customers']:,}",
                        f"{g['unprofitable_share']:.0%}"] for g in ordered],
        "hovertemplate": "<b>%{y}</b><br>mean CLV %{customdata[1]} over %{customdata[2]} "
        "customers<br>%{customdata[3]} of them unprofitable<extra></extra>",
    }  # fmt: skip
    right = {
        "type": "bar", "orientation": "h", "y": names,
        "x": [g["bonuses_on_unprofitable"] for g in ordered], "xaxis": "x2", "yaxis": "y",
        "marker": {"color": PALETTE["loss"]},
        "customdata": [[g["losers_url"], money_text(g["bonuses_on_unprofitable"], currency),
                        money_text(g["bonuses"], currency)] for g in ordered],
        "hovertemplate": "<b>%{y}</b><br>%{customdata[1]} of %{customdata[2]} in bonuses paid "
        "on customers who lose money<extra></extra>",
    }  # fmt: skip
    heading = {"xref": "paper", "yref": "paper", "y": 1.0, "yanchor": "bottom",
               "showarrow": False, "font": {"size": 12, "color": "#4a5568"}}  # fmt: skip
    return {
        "data": [left, right],
        "layout": _layout(
            title,
            height=max(340, 110 + 34 * len(groups)),
            margin={"l": 60, "r": 20, "t": 70, "b": 40},
            xaxis=_money_axis("", currency, domain=[0, 0.44], nticks=4),
            xaxis2=_money_axis("", currency, domain=[0.56, 1], anchor="y", nticks=4),
            yaxis=_axis("", automargin=True),
            annotations=[
                {**heading, "x": 0, "xanchor": "left", "text": "Mean CLV of customers won"},
                {**heading, "x": 0.56, "xanchor": "left", "text": "Bonuses paid on loss-makers"},
            ],
        ),
    }  # fmt: skip


def spend_figure(kpis: dict, *, currency: str, acquisition_url: str, retention_url: str) -> dict:
    """Last twelve months: spent on winning customers against spent on serving them."""
    acquisition = kpis.get("acquisition_spend_last_year") or 0.0
    retention = kpis.get("retention_spend_last_year") or 0.0
    trace = {
        "type": "bar", "orientation": "h",
        "y": ["Serving customers", "Winning customers"], "x": [retention, acquisition],
        "marker": {"color": [PALETTE["margin"], PALETTE["revenue"]]},
        "text": [compact_money(retention, currency), compact_money(acquisition, currency)],
        "textposition": "auto", "insidetextanchor": "end",
        "customdata": [[retention_url, money_text(retention, currency)],
                       [acquisition_url, money_text(acquisition, currency)]],
        "hovertemplate": "%{y}: %{customdata[1]}<extra></extra>",
    }  # fmt: skip
    return {
        "data": [trace],
        "layout": _layout(
            "Spend of the last 12 months",
            height=340,
            bargap=0.45,
            margin={"l": 60, "r": 20, "t": 48, "b": 30},
            xaxis=_money_axis("", currency, nticks=4),
            yaxis=_axis(""),
        ),
    }


TREND_PANELS = [
    ("cost_of_complaint", "Cost of a complaint", "money"),
    ("cost_of_new_customer", "Cost of a new customer", "money"),
    ("annual_value_of_customer", "Annual value of a customer", "money"),
    ("clv_to_cac", "CLV : CAC", "ratio"),
    ("unprofitable_share", "Customers unprofitable", "share"),
    ("total_profit", "Total profit to date", "money"),
]


def trends_figure(rows: list[dict], *, currency: str) -> dict:
    """The KPIs of each run by as-of date, one small chart each (two rows of three)."""
    dates = [r["as_of"].isoformat() for r in rows]
    traces, layout, annotations = [], {}, []
    width, gap = 0.28, 0.08
    for i, (key, label, unit) in enumerate(TREND_PANELS):
        row, col = divmod(i, 3)
        n = "" if i == 0 else str(i + 1)
        left = col * (width + gap)
        bottom = 0.0 if row else 0.58
        values = [r.get(key) for r in rows]
        if unit == "money":
            shown = [money_text(v, currency) for v in values]
            yaxis = _money_axis("", currency)
        elif unit == "share":
            shown = ["—" if v is None else f"{v:.1%}" for v in values]
            yaxis = _axis("", tickformat=".1%")
        else:
            shown = ["—" if v is None else f"{v:.1f}" for v in values]
            yaxis = _axis("")
        traces.append(
            {"type": "scatter", "mode": "lines+markers", "name": label, "x": dates, "y": values,
             "xaxis": f"x{n}", "yaxis": f"y{n}",
             "line": {"color": PALETTE["loss"] if unit == "share" else PALETTE["revenue"],
                      "width": 2},
             "customdata": shown, "hovertemplate": "as of %{x}: %{customdata}<extra></extra>"}
        )  # fmt: skip
        layout[f"xaxis{n}"] = _axis("", type="date", domain=[left, left + width],
                                    anchor=f"y{n}", nticks=4, tickformat="%b %Y")  # fmt: skip
        layout[f"yaxis{n}"] = {**yaxis, "domain": [bottom, bottom + 0.32], "anchor": f"x{n}"}
        annotations.append(
            {"text": f"<b>{label}</b>", "x": left, "y": bottom + 0.34, "xref": "paper",
             "yref": "paper", "xanchor": "left", "yanchor": "bottom", "showarrow": False}
        )  # fmt: skip
    return {
        "data": traces,
        "layout": _layout(
            "The KPIs across economics runs, by as-of date",
            height=470,
            margin={"l": 60, "r": 20, "t": 60, "b": 40},
            annotations=annotations,
            **layout,
        ),
    }
