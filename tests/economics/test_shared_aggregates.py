"""What the catalogue, the cost to serve and the plans compute once and share gives the
numbers the plain per-metric pandas computations give, to the last bit."""

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from economics import costs
from economics.inputs import _plan
from economics.metrics import METRICS, BusinessCalendar, MetricData
from economics.metrics.catalogue import CustomerRows, _positions
from economics.metrics.data import _Stream, _texts_in_parallel
from economics.metrics.scoring import PlanItem, score_plan, score_plans

AS_OF = dt.date(2024, 12, 31)


def _random_data(seed: int = 1, customers: int = 60, rows: int = 3000) -> MetricData:
    rng = np.random.default_rng(seed)
    index = pd.Index(np.arange(10, 10 + customers) * 3, name="id")  # not a dense range
    ids = rng.choice(np.concatenate([index.to_numpy(), [1, 2]]), rows)  # 1, 2: strangers
    day = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 1095, rows), "D")
    orders = pd.DataFrame(
        {
            "customer_id": ids,
            "date": day.astype("datetime64[s]"),
            "revenue": rng.uniform(0, 1000, rows).round(2),
            "cost": rng.uniform(0, 600, rows).round(2),
            "kind": pd.Categorical(rng.choice(["first", "repeat", "upgrade"], rows)),
            "category": rng.choice(["", "Tools", "Parts", "Service"], rows),
        }
    )
    due = pd.Timestamp("2022-02-01") + pd.to_timedelta(rng.integers(0, 1095, rows), "D")
    paid = due + pd.to_timedelta(rng.integers(-20, 60, rows), "D")
    invoices = pd.DataFrame(
        {
            "customer_id": ids,
            "issued_on": (due - pd.Timedelta(days=30)).astype("datetime64[s]"),
            "due_on": due.astype("datetime64[s]"),
            "paid_on": pd.Series(paid.astype("datetime64[s]")).where(rng.uniform(size=rows) < 0.8),
            "amount": rng.uniform(10, 5000, rows).round(2),
        }
    )
    opened = pd.Timestamp("2023-06-01") + pd.to_timedelta(rng.integers(0, 570 * 24, rows), "h")
    tickets = pd.DataFrame(
        {
            "customer_id": ids,
            "opened_at": opened.astype("datetime64[us]"),
            "first_response_at": opened + pd.to_timedelta(rng.integers(1, 80, rows), "h"),
            "resolved_at": opened + pd.to_timedelta(rng.integers(2, 200, rows), "h"),
            "channel": pd.Categorical(rng.choice(["email", "phone", "chat"], rows)),
            "is_complaint": rng.uniform(size=rows) < 0.3,
            "csat": pd.Series(rng.integers(1, 6, rows).astype("float64")).where(
                rng.uniform(size=rows) < 0.7
            ),
        }
    )
    activities = pd.DataFrame(
        {
            "customer_id": ids,
            "date": day.astype("datetime64[s]"),
            "kind": pd.Categorical(rng.choice(["concession", "listening", "surprise"], rows)),
            "quantity": rng.integers(1, 4, rows).astype("float64"),
            "activity_type_id": rng.integers(1, 4, rows).astype(np.int32),
            "amount": rng.uniform(0, 300, rows).round(2),
        }
    )
    few = rows // 10
    return MetricData(
        as_of=AS_OF,
        customers=pd.DataFrame(
            {
                "acquired_on": pd.Series(
                    pd.Timestamp("2021-01-01")
                    + pd.to_timedelta(rng.integers(0, 1400, customers), "D"),
                    index=index,
                )
                .astype("datetime64[s]")
                .where(rng.uniform(size=customers) < 0.7),
                "has_account_manager": rng.uniform(size=customers) < 0.5,
            },
            index=index,
        ),
        orders=orders,
        invoices=invoices,
        tickets=tickets,
        activities=activities,
        referrals=pd.DataFrame({"customer_id": ids[:few], "date": orders["date"][:few]}),
        feedback=pd.DataFrame(
            {
                "customer_id": ids[:few],
                "date": orders["date"][:few],
                "score": rng.integers(0, 11, few).astype("float64"),
                "has_insight": rng.uniform(size=few) < 0.4,
            }
        ),
        calendar=BusinessCalendar(),
    )


def test_sums_means_and_counts_per_customer_are_those_of_groupby():
    data = _random_data()
    o = data.orders
    rows = CustomerRows(o["customer_id"], data.index)
    recent = (o["date"] >= pd.Timestamp("2024-01-01")).to_numpy()
    expected_sum = o["revenue"][recent].groupby(o["customer_id"][recent]).sum()
    pd.testing.assert_series_equal(
        rows.sum(o["revenue"], recent),
        expected_sum.reindex(data.index, fill_value=0.0).rename(None),
        check_exact=True,
        check_names=False,
    )
    expected_mean = o["cost"].groupby(o["customer_id"]).mean().reindex(data.index)
    pd.testing.assert_series_equal(
        rows.mean(o["cost"]), expected_mean, check_exact=True, check_names=False
    )
    counts = o["customer_id"][recent].value_counts().reindex(data.index, fill_value=0)
    assert rows.count(recent).tolist() == counts.tolist()


def test_shares_and_means_of_whole_numbers_are_those_of_groupby():
    data = _random_data(seed=2)
    inv = data.invoices
    rows = CustomerRows(inv["customer_id"], data.index)
    late = (inv["paid_on"].isna() | (inv["paid_on"] > inv["due_on"])).to_numpy()
    expected = pd.Series(late).groupby(inv["customer_id"].to_numpy()).mean()
    shares = rows.share(late)
    assert np.array_equal(shares, expected.reindex(data.index), equal_nan=True)
    days = (inv["paid_on"] - inv["due_on"]).dt.days.astype("float64")  # NaN when unpaid
    expected = days.groupby(inv["customer_id"]).mean().reindex(data.index)
    assert np.array_equal(rows.mean_of_whole_numbers(days), expected, equal_nan=True)


def test_positions_by_table_and_by_hashing_agree():
    index = pd.Index([5, 9, 12, 30, 31])
    ids = np.array([9, 4, 31, 5, 100, 12, 12, -3], dtype=np.int32)
    assert _positions(ids, index).tolist() == index.get_indexer(ids).tolist()
    sparse = pd.Index([5, 10**12])  # too wide a range for a table
    assert _positions(np.array([10**12, 7]), sparse).tolist() == [1, -1]


@pytest.mark.parametrize("unit", ["s", "ns"])  # ns over a century: the sorting fallback
def test_purchase_days_and_first_purchases_are_those_of_the_orders(unit):
    data = _random_data(seed=3)
    if unit == "ns":
        early = data.orders["date"].astype("datetime64[ns]")
        early.iloc[0] = pd.Timestamp("1905-01-01")
        data = dataclasses.replace(data, orders=data.orders.assign(date=early))
    o = data.orders[data.orders["customer_id"].isin(data.index)]
    expected = o[["customer_id", "date"]].drop_duplicates()
    days = data.purchase_days()
    got = set(zip(days["customer_id"].tolist(), days["date"].tolist(), strict=True))
    assert got == set(zip(expected["customer_id"], expected["date"], strict=True))
    assert len(days) == len(expected)
    first = o.groupby("customer_id")["date"].min().reindex(data.index)
    pd.testing.assert_series_equal(data.first_purchase(), first, check_names=False)


def test_a_copy_of_the_data_computes_afresh():
    data = _random_data(seed=4)
    before = data.first_purchase()
    later = dataclasses.replace(data, orders=data.orders.iloc[:10])
    assert not later.first_purchase().equals(before)
    data.forget()
    assert data.first_purchase().equals(before)


def _with_rates():
    return pd.DataFrame(
        {
            "activity_type_id": [1, 1, 2, 3],
            "effective_from": pd.to_datetime(
                ["2022-01-01", "2023-07-01", "2023-01-01", "2030-01-01"]
            ).astype("datetime64[s]"),
            "unit_cost": [10.0, 12.5, 40.0, 99.0],
        }
    )


def test_activity_costs_take_the_rate_in_force_on_the_day():
    data = _random_data(seed=5)
    acts = data.activities
    rates = _with_rates()
    merged = pd.merge_asof(
        acts.assign(
            _row=np.arange(len(acts)), activity_type_id=acts["activity_type_id"].astype("int64")
        ).sort_values("date", kind="stable"),
        rates.sort_values("effective_from"),
        left_on="date",
        right_on="effective_from",
        by="activity_type_id",
    )
    expected = np.empty(len(acts))
    expected[merged["_row"]] = (merged["quantity"] * merged["unit_cost"].fillna(0.0)).to_numpy()
    assert np.array_equal(costs.activity_costs(acts, rates).to_numpy(), expected)


def _reference_cost_to_serve(data, rates, charters, params, start, end):
    """The cost to serve of one period computed row by row with groupby, as it was."""
    index = data.index
    a = data.activities[(data.activities["date"] >= start) & (data.activities["date"] < end)]
    t = data.tickets[(data.tickets["opened_at"] >= start) & (data.tickets["opened_at"] < end)]
    i = data.invoices[(data.invoices["due_on"] >= start) & (data.invoices["due_on"] < end)]

    def by(values, keys):
        return values.groupby(keys.to_numpy()).sum().reindex(index, fill_value=0.0)

    complaint = t["is_complaint"].astype(bool)
    settled = i["paid_on"].fillna(data.as_of_ts)
    days = (settled - i["due_on"]).dt.days.clip(lower=0).astype("float64")
    late = np.where(days > 0, params.collection_cost_per_late_invoice, 0.0) + (
        i["amount"] * days / 365.0 * params.cost_of_capital_rate
    )
    frame = pd.DataFrame(
        {
            "activities": by(costs.activity_costs(a, rates), a["customer_id"]),
            "tickets": by((~complaint).astype("float64"), t["customer_id"])
            * params.ticket_handling_cost,
            "complaints": by(complaint.astype("float64"), t["customer_id"])
            * params.complaint_handling_cost,
            "concessions": by(a["amount"].where(a["kind"] == "concession", 0.0), a["customer_id"]),
            "collection": by(pd.Series(late, index=i.index), i["customer_id"]),
            "commitments": costs.commitment_costs(charters, index, start, end),
        },
        index=index,
    )
    frame["total"] = frame[costs.COMPONENTS].sum(axis=1)
    return frame


def test_the_cost_to_serve_of_both_periods_is_that_of_each_period_alone():
    data = _random_data(seed=6)
    params = costs.CostParams(
        ticket_handling_cost=7.5,
        complaint_handling_cost=31.0,
        collection_cost_per_late_invoice=12.0,
        cost_of_capital_rate=0.08,
    )
    charters = pd.DataFrame(
        {
            "customer_id": data.index[:5],
            "in_force_from": pd.to_datetime(["2023-01-01"] * 5),
            "in_force_until": pd.to_datetime([pd.NaT] * 5),
            "yearly_cost": [100.0, 200.0, 0.0, 50.0, 75.0],
        }
    )
    periods = {
        "to_date": (pd.Timestamp("1900-01-01"), data.end_of_day),
        "last_year": (data.window_start(), data.end_of_day),
    }
    got = costs.cost_to_serve_periods(
        index=data.index, activities=data.activities, rates=_with_rates(),
        tickets=data.tickets, invoices=data.invoices, charters=charters, params=params,
        periods=periods, as_of=data.as_of_ts,
    )  # fmt: skip
    for name, (start, end) in periods.items():
        expected = _reference_cost_to_serve(data, _with_rates(), charters, params, start, end)
        pd.testing.assert_frame_equal(got[name], expected, check_exact=True)


def _reference_plan(current, definitions, overrides, source):
    """The plan as one merge of every charter with every definition (as it was)."""
    rows = current[["charter_id", "customer_id", "blueprint_id"]].merge(
        definitions, on="blueprint_id"
    )
    rows = rows.merge(overrides, on=["charter_id", source], how="left")
    rows["o_excluded"] = rows["o_excluded"].fillna(False).astype(bool)
    rows = rows[~rows["o_excluded"]]
    rows["target"] = rows["o_target"].astype("float64").fillna(rows["target"].astype("float64"))
    rows["weight"] = rows["o_weight"].astype("float64").fillna(rows["weight"].astype("float64"))
    items = []
    for (_, key), group in rows.groupby([source, "metric"], sort=False):
        first = group.iloc[0]
        items.append(
            (
                key,
                first["direction"],
                group["customer_id"].tolist(),
                group["target"].tolist(),
                group["weight"].tolist(),
            )
        )
    return items


def test_plans_are_those_of_merging_every_charter_with_every_definition():
    current = pd.DataFrame(
        {
            "charter_id": [11, 12, 13, 14, 15, 16],
            "customer_id": [1, 2, 3, 4, 5, 6],
            "blueprint_id": [2, 1, 2, 1, 3, 2],
        }
    )
    definitions = pd.DataFrame(
        {
            "expectation_id": [100, 101, 102, 103, 104],
            "blueprint_id": [1, 1, 2, 2, 3],
            "metric": ["purchases_per_year", "average_days_late", "annual_value",
                       "purchases_per_year", "tenure_months"],
            "metric_params": [{}, {}, {}, {}, {}],
            "target": [4.0, 10.0, 1000.0, 2.0, 24.0],
            "direction": ["at_least", "at_most", "at_least", "at_least", "at_least"],
            "weight": [1.0, 2.0, 1.0, 3.0, 1.0],
        }
    )  # fmt: skip
    overrides = pd.DataFrame(
        {
            # Charter 12 drops its first expectation, so charter 14 is its first user;
            # charter 11 has its own target; charter 16 its own weight.
            "charter_id": [12, 11, 16],
            "expectation_id": [100, 102, 103],
            "o_target": [np.nan, 500.0, np.nan],
            "o_weight": [np.nan, np.nan, 5.0],
            "o_excluded": [True, False, False],
        }
    )
    got = [
        (i.metric, i.direction, i.customer_ids.tolist(), i.targets.tolist(), i.weights.tolist())
        for i in _plan(current, definitions, overrides, "expectation_id")
    ]
    assert got == _reference_plan(current, definitions, overrides, "expectation_id")
    no_overrides = overrides.iloc[:0]
    got = [
        (i.metric, i.direction, i.customer_ids.tolist(), i.targets.tolist(), i.weights.tolist())
        for i in _plan(current, definitions, no_overrides, "expectation_id")
    ]
    assert got == _reference_plan(current, definitions, no_overrides, "expectation_id")


def test_scoring_plans_metric_by_metric_gives_the_scores_of_all_values_at_once():
    data = _random_data(seed=7)
    index = data.index
    rng = np.random.default_rng(7)

    def item(key, params=None):
        who = rng.choice(index.to_numpy(), 30, replace=False)
        metric = METRICS[key]
        return PlanItem(
            metric=key, params=metric.resolve_params(params), direction=metric.direction,
            customer_ids=who, targets=rng.uniform(0.5, 5, 30), weights=rng.uniform(0.5, 2, 30),
        )  # fmt: skip

    plans = [
        [item("purchases_per_year"), item("average_days_late"), item("purchases_per_year")],
        [item("first_response_within_target_share", {"hours": 8}), item("average_days_late")],
    ]
    keys = {(i.metric, tuple(sorted(i.params.items()))) for plan in plans for i in plan}
    values = {k: METRICS[k[0]](data, dict(k[1])) for k in keys}
    asked = []

    def value_of(metric, params):
        asked.append(metric)
        return METRICS[metric](data, params)

    keep = [("average_days_late", ())]
    scores, kept = score_plans(plans, index, value_of, keep=keep)
    for plan, score in zip(plans, scores, strict=True):
        assert np.array_equal(score, score_plan(values, plan, index), equal_nan=True)
    assert sorted(asked) == sorted(k[0] for k in keys)  # each metric once
    assert list(kept) == keep


def test_texts_read_on_two_connections_all_arrive_once(monkeypatch):
    from economics.metrics import data as loader

    def texts(conn, sql, params, ranges):
        for lo, hi in ranges:
            yield f"{lo},{hi}"

    monkeypatch.setattr(loader, "_texts", texts)
    ranges = [(k, k + 1) for k in range(0, 40, 2)]
    got = list(_texts_in_parallel("", [], ranges))
    assert sorted(got) == sorted(f"{lo},{hi}" for lo, hi in ranges)
    frame = pd.read_csv(_Stream(iter(got)), header=None, names=["lo", "hi"])
    assert sorted(frame["lo"]) == [lo for lo, _ in ranges]


def test_a_failing_connection_fails_the_read(monkeypatch):
    from economics.metrics import data as loader

    def texts(conn, sql, params, ranges):
        yield "1,2"
        if ranges[0][0] == 2:
            raise RuntimeError("the server went away")
        yield from (f"{lo},{hi}" for lo, hi in ranges[1:])

    monkeypatch.setattr(loader, "_texts", texts)
    with pytest.raises(RuntimeError, match="went away"):
        list(_texts_in_parallel("", [], [(k, k + 1) for k in range(0, 40, 2)]))
