"""The executive dashboard: the current run's figures for the filtered customers, the
same formulas as the run's own KPIs, drill-downs that keep the filter, exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.http import QueryDict
from django.urls import reverse
from openpyxl import load_workbook

from accounts.personas import Persona
from customers.filters import CustomerFilter
from customers.models import Customer
from economics import dashboard as board
from economics import services
from economics.models import CustomerScore, EconomicsRun
from tests.economics.conftest import AS_OF, build_base
from tests.factories import (
    ActivityRateFactory,
    ActivityTypeFactory,
    AgreedCharterFactory,
    LifecycleExpectationFactory,
    RoleBlueprintFactory,
    ServiceActivityFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

URL = reverse("economics:dashboard")
MONEY_KPIS = ["cost_of_complaint", "cost_of_new_customer", "annual_value_of_customer"]
SUM_KPIS = ["total_profit", "total_clv", "acquisition_spend_last_year", "retention_spend_last_year"]
N = 240


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def run_economics(as_of: dt.date = AS_OF) -> EconomicsRun:
    return services.run_execute(services.run_request(as_of=as_of, enqueue=False).pk)


@pytest.fixture
def company(db):
    """A simulated base with two roles agreed for some customers, an account manager's
    portfolio, and concessions after complaints, scored by one run."""
    ids = build_base(n=N)
    growth = RoleBlueprintFactory(name="Growth account")
    LifecycleExpectationFactory(blueprint=growth, target=Decimal("2"))
    partner = RoleBlueprintFactory(name="Strategic partner")
    LifecycleExpectationFactory(blueprint=partner, target=Decimal("6"))
    customers = Customer.objects.in_bulk(ids)
    for k, pk in enumerate(ids[: N // 2]):
        AgreedCharterFactory(customer=customers[pk], blueprint=growth if k % 2 else partner)
    manager = UserFactory(username="amy", first_name="Amy", persona=Persona.ACCOUNT_MANAGER)
    Customer.objects.filter(pk__in=ids[::4]).update(account_manager=manager)
    credit = ActivityTypeFactory(code="credit-note", kind="concession")
    ActivityRateFactory(activity_type=credit, unit_cost=Decimal("0.00"))
    for pk in ids[:6]:  # customers 0..11 complained 25 times in June 2024
        ServiceActivityFactory(customer=customers[pk], activity_type=credit,
                               date=dt.date(2024, 6, 5), amount=Decimal("80.00"))  # fmt: skip
    return {"ids": ids, "growth": growth, "partner": partner, "manager": manager,
            "run": run_economics()}  # fmt: skip


def page(client, user, **params):
    client.force_login(user)
    return client.get(URL, params)


# --- access --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["executive", "admin_user", "cx_analyst"])
def test_executives_admins_and_cx_read_the_dashboard(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 200
    assert client.get(reverse("economics:dashboard_trends")).status_code == 200


@pytest.mark.parametrize("persona", ["account_manager", "integrator"])
def test_account_managers_and_integrators_get_403(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    assert client.get(reverse("economics:dashboard_trends")).status_code == 403
    data = reverse("economics:dashboard_data", args=["segments", "csv"])
    assert client.get(data).status_code == 403


def test_anonymous_is_sent_to_sign_in(client):
    for url in [URL, reverse("economics:dashboard_data", args=["kpis", "csv"])]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


def test_the_nav_shows_the_dashboard_to_executives_only_among_readers(
    client, executive, account_manager
):
    client.force_login(executive)
    assert 'data-testid="nav-dashboard"' in client.get(reverse("home")).content.decode()
    client.force_login(account_manager)
    assert 'data-testid="nav-dashboard"' not in client.get(reverse("home")).content.decode()


# --- before the first run -------------------------------------------------------------


def test_without_a_run_it_says_so_and_offers_to_run(client, executive):
    body = page(client, executive).content.decode()
    assert "No economics run yet" in body
    assert 'data-testid="empty-run-now"' in body
    assert f'value="{URL}"' in body  # comes back here


def test_the_cx_team_cannot_start_a_run_from_it(client, cx_analyst):
    body = page(client, cx_analyst).content.decode()
    assert "No economics run yet" in body
    assert "empty-run-now" not in body and "run-now" not in body


def test_the_cx_team_sees_a_run_under_way_without_following_it(client, cx_analyst):
    run = EconomicsRun.objects.create(as_of=AS_OF, stage="cost to serve", progress=35)
    body = page(client, cx_analyst).content.decode()
    assert 'data-testid="run-under-way"' in body
    # The live progress is for those who may run the economics (it would answer 403).
    assert reverse("economics:run_progress", args=[run.pk]) not in body


def test_a_run_under_way_shows_its_progress(client, executive):
    EconomicsRun.objects.create(as_of=AS_OF, stage="cost to serve", progress=35)
    body = page(client, executive).content.decode()
    assert 'data-testid="run-progress"' in body and "35 %" in body


# --- one formula: the dashboard's KPIs are the run's ----------------------------------


def test_without_a_filter_the_kpis_are_the_runs_own(company):
    run = company["run"]
    data = board.dashboard(run, None, CustomerFilter())
    stored, mine = run.kpis, data.kpis
    # Scores are stored in cents; the run computed in floats. Means may differ by a
    # cent, sums by at most half a cent per customer.
    for key in MONEY_KPIS:
        assert mine[key] == pytest.approx(stored[key], abs=0.01), key
    for key in SUM_KPIS:
        assert mine[key] == pytest.approx(stored[key], abs=0.005 * N), key
    assert mine["clv_to_cac"] == pytest.approx(stored["clv_to_cac"], abs=0.002)
    assert mine["profit_lost_share"] == pytest.approx(stored["profit_lost_share"], abs=1e-3)
    for key in ["customers", "complaints_last_year", "new_customers_last_year",
                "unprofitable_share", "classes"]:  # fmt: skip
        assert mine[key] == stored[key], key
    # The concessions after complaints count: 300 complaints × 120 + 6 × 80 of credits.
    assert mine["cost_of_complaint"] == pytest.approx((300 * 120 + 6 * 80) / 300, abs=0.01)


def test_acquisition_quality_by_rep_and_channel_is_the_runs_own(company):
    data = board.dashboard(company["run"], None, CustomerFilter())
    for dimension, key in [("rep", "by_sales_rep"), ("channel", "by_channel")]:
        mine = {g["name"]: g for g in board.group_rows(data.breakdown.by[dimension], dimension,
                                                       CustomerFilter())}  # fmt: skip
        for row in company["run"].kpis[key]:
            group = mine[row["name"]]
            assert group["customers"] == row["customers"]
            assert group["mean_clv"] == pytest.approx(row["mean_clv"], abs=0.01)
            assert group["unprofitable_share"] == pytest.approx(row["unprofitable_share"],
                                                                abs=1e-4)  # fmt: skip
            assert group["bonuses_on_unprofitable"] == pytest.approx(
                row["bonuses_on_unprofitable"], abs=0.01
            )


def test_the_whole_base_whale_curve_is_the_stored_one(company):
    run = company["run"]
    data = board.dashboard(run, None, CustomerFilter())
    assert data.whale["customers_pct"] == run.kpis["whale_curve"]["customers_pct"]
    # …and computed afresh from the scores it is the same curve.
    profits = [float(p) for p in CustomerScore.objects.filter(run=run)
               .values_list("profit_to_date", flat=True)]  # fmt: skip
    fresh = board.whale_curve(board.pd.Series(profits))
    assert fresh["profit_pct"] == pytest.approx(run.kpis["whale_curve"]["profit_pct"], abs=0.01)


# --- filters apply to every figure ----------------------------------------------------


def scores_of(run, **customer_fields):
    return list(CustomerScore.objects.filter(run=run, **{f"customer__{k}": v for k, v in
                                                         customer_fields.items()}))  # fmt: skip


def test_a_segment_filter_changes_every_figure(client, executive, company):
    run = company["run"]
    whole = page(client, executive).context
    mid = page(client, executive, segment="Mid-market").context
    scores = scores_of(run, segment="Mid-market")
    assert 0 < len(scores) < N

    # KPIs, worked out here from the customers' own scores.
    kpis = mid["data"].kpis
    assert kpis["customers"] == len(scores)
    assert kpis["total_profit"] == pytest.approx(float(sum(s.profit_to_date for s in scores)))
    assert kpis["unprofitable_share"] == pytest.approx(
        sum(s.clv < 0 for s in scores) / len(scores), abs=1e-4
    )
    buyers = [s for s in scores if s.purchases_last_year > 0]
    assert kpis["annual_value_of_customer"] == pytest.approx(
        float(sum(s.annual_value for s in buyers)) / len(buyers), abs=0.01
    )
    assert kpis != whole["data"].kpis

    # The whale curve: its total is the segment's profit.
    assert mid["data"].whale["total"] == pytest.approx(kpis["total_profit"], abs=0.01)
    assert mid["figures"]["whale"] != whole["figures"]["whale"]
    # Distribution, scatter, spend: only the segment's customers.
    assert sum(b["customers"] for b in mid["data"].distribution) == len(scores)
    assert len(mid["data"].sample.points) == len(scores)
    for name in ["distribution", "fit", "spend"]:
        assert mid["figures"][name] != whole["figures"][name], name
    # Groups: one segment left; reps, channels and roles count only its customers.
    cards = {c["chart"]: c for c in mid["group_cards"]}
    assert [g["name"] for g in cards["segments"]["rows"]] == ["Mid-market"]
    for chart in ["blueprints", "reps", "channels"]:
        assert sum(g["customers"] for g in cards[chart]["rows"]) == len(scores), chart
    assert [t.value for t in mid["data"].tiles] != [t.value for t in whole["data"].tiles]


def test_every_dashboard_filter_narrows_the_customers(company):
    run = company["run"]
    cases = {
        "segment": ("Enterprise", {"segment": "Enterprise"}),
        "channel": ("Partner", {"acquisition_channel": "Partner"}),
        "rep": ("Ann", {"sales_rep": "Ann"}),
        "manager": (str(company["manager"].pk), {"account_manager": company["manager"]}),
    }
    for param, (value, fields) in cases.items():
        f = board.dashboard_filter(QueryDict(f"{param}={value}"))
        assert board.dashboard(run, None, f).kpis["customers"] == len(scores_of(run, **fields))
    f = board.dashboard_filter(QueryDict(f"blueprint={company['growth'].pk}"))
    assert board.dashboard(run, None, f).kpis["customers"] == N // 4


def test_filters_outside_the_dashboards_are_ignored(company):
    f = board.dashboard_filter(QueryDict("klass=let_go&q=Simulated 1&unprofitable=1&sort=-clv"))
    assert not f.is_active()


def test_a_filter_that_matches_nobody_says_so(client, executive, company):
    response = page(client, executive, rep="Nobody")
    assert response.status_code == 200
    assert 'data-testid="no-match"' in response.content.decode()


# --- change since the previous run ------------------------------------------------------


def test_each_kpi_shows_its_change_since_the_previous_run(client, executive, company):
    earlier = company["run"]
    later = run_economics(AS_OF + dt.timedelta(days=1))  # new customers' window moves
    response = page(client, executive)
    data = response.context["data"]
    assert data.run == later and data.previous == earlier
    for tile in data.tiles:
        assert tile.previous == earlier.kpis[tile.key]
        assert tile.value == pytest.approx(later.kpis[tile.key], abs=0.005 * N)
        assert tile.change == pytest.approx(tile.value - tile.previous)
    body = response.content.decode()
    assert body.count('data-testid="kpi-change"') == 6
    assert f"since {earlier.as_of:%-d %b %Y}" in body


def test_with_a_filter_the_previous_run_is_filtered_too(company):
    earlier = company["run"]
    later = run_economics(AS_OF + dt.timedelta(days=1))
    f = CustomerFilter(segment="Enterprise")
    data = board.dashboard(later, earlier, f)
    expected = board.dashboard(earlier, None, f).kpis
    for tile in data.tiles:
        assert tile.previous == expected[tile.key], tile.key


def test_the_first_run_has_no_change_to_show(client, executive, company):
    body = page(client, executive).content.decode()
    assert "first run: no change yet" in body


# --- drill-downs ----------------------------------------------------------------------


def test_drill_downs_keep_the_filter_and_list_the_same_customers(client, executive, company):
    context = page(client, executive, channel="Partner").context
    cards = {c["chart"]: c for c in context["group_cards"]}
    for row in cards["segments"]["rows"] + cards["reps"]["rows"]:
        assert "channel=Partner" in row["url"]
        listed = client.get(row["url"]).context["page"].paginator.count
        assert listed == row["customers"], row["name"]
        losers = client.get(row["losers_url"]).context["page"].paginator.count
        assert losers == row["unprofitable"]
    # Roles: the bar of a blueprint lists its customers; "no agreed role" its class.
    names = {r["name"]: r for r in cards["blueprints"]["rows"]}
    assert f"blueprint={company['growth'].pk}" in names["Growth account"]["url"]
    # Bars carry their link in customdata[0] for static/js/drilldown.js.
    bars = cards["segments"]["figure"]["data"][0]
    assert [d[0] for d in bars["customdata"]] == [r["url"] for r in cards["segments"]["rows"]]
    # Tiles and classes too.
    for tile in context["data"].tiles:
        assert "channel=Partner" in tile.drill
    for _klass, _label, count, _share, url in context["classes"]:
        assert "channel=Partner" in url
        assert client.get(url).context["page"].paginator.count == count


def test_a_dot_of_the_scatter_opens_its_customer(client, executive, company):
    figure = page(client, executive).context["figures"]["fit"]
    urls = [d[0] for trace in figure["data"] for d in trace["customdata"]]
    assert len(urls) == N
    assert client.get(urls[0]).status_code == 200
    assert urls[0].startswith("/customers/")


def test_past_the_limit_the_scatter_shows_an_even_sample(client, executive, company,
                                                         monkeypatch):  # fmt: skip
    monkeypatch.setattr(board, "SCATTER_POINTS", 50)
    response = page(client, executive)
    sample = response.context["data"].sample
    assert sample.sampled and len(sample.points) == 50 and sample.total == N
    clvs = CustomerScore.objects.filter(run=company["run"]).order_by("clv", "customer_id")
    ids = {p["id"] for p in sample.points}
    assert {clvs.last().customer_id, clvs.first().customer_id} <= ids  # the best, the worst
    assert f"Shown: 50 of {N} customers" in response.content.decode()


def test_names_reach_the_charts_as_text_not_markup(client, executive, company):
    Customer.objects.filter(pk=company["ids"][0]).update(name="<b>Bold</b> & Co")
    Customer.objects.filter(pk__in=company["ids"][:5]).update(segment="<i>Retail</i>")
    context = page(client, executive).context
    names = [d[1] for trace in context["figures"]["fit"]["data"] for d in trace["customdata"]]
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in names
    segments = next(c for c in context["group_cards"] if c["chart"] == "segments")
    assert "&lt;i&gt;Retail&lt;/i&gt;" in segments["figure"]["data"][0]["x"]


# --- exports ----------------------------------------------------------------------------


def test_chart_data_exports_as_csv_with_the_filter(client, executive, company):
    client.force_login(executive)
    url = reverse("economics:dashboard_data", args=["reps", "csv"])
    response = client.get(url, {"segment": "Enterprise"})
    assert response["Content-Type"].startswith("text/csv")
    assert "dashboard-reps-2024-12-31.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["name", "customers", "profit_to_date"]
    assert sum(int(r[1]) for r in rows[1:]) == len(scores_of(company["run"], segment="Enterprise"))


def test_every_chart_exports_as_xlsx(client, executive, company):
    client.force_login(executive)
    run_economics(AS_OF + dt.timedelta(days=1))
    for chart in board.EXPORTS:
        response = client.get(reverse("economics:dashboard_data", args=[chart, "xlsx"]))
        assert response.status_code == 200, chart
        book = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
        sheet = book.active
        assert sheet.max_row >= (1 if chart == "holdout" else 2), chart


def test_exported_text_cannot_run_as_a_formula(client, executive, company):
    Customer.objects.filter(pk__in=company["ids"][:3]).update(segment='=HYPERLINK("x")')
    client.force_login(executive)
    response = client.get(reverse("economics:dashboard_data", args=["segments", "csv"]))
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    response = client.get(reverse("economics:dashboard_data", args=["segments", "xlsx"]))
    cells = [c.value for c in load_workbook(io.BytesIO(b"".join(response.streaming_content)))
             .active["A"]]  # fmt: skip
    assert '\'=HYPERLINK("x")' in cells


def test_an_unknown_chart_or_format_is_404(client, executive, company):
    client.force_login(executive)
    assert client.get(reverse("economics:dashboard_data", args=["nope", "csv"])).status_code == 404
    assert client.get(reverse("economics:dashboard_data", args=["kpis", "pdf"])).status_code == 404


# --- the page: run status, trends, model health, queries ---------------------------------


def test_the_filters_offer_the_runs_reps_channels_and_roles(client, executive, company):
    context = page(client, executive).context
    assert context["choices"] == {
        "segments": ["Enterprise", "Mid-market", "Small business"],
        "channels": ["Direct", "Paid ads", "Partner"],
        "reps": ["Ann", "Ben"],
    }
    assert [name for _pk, name in context["blueprints"]] == ["Growth account",
                                                              "Strategic partner"]  # fmt: skip
    assert [m[0] for m in context["managers"]] == [company["manager"].pk]


def test_the_status_bar_says_when_the_figures_are_from(client, executive, company):
    body = page(client, executive).content.decode()
    assert "Figures as of <strong>31 December 2024</strong>" in body
    assert 'data-testid="run-now"' in body


def test_run_now_comes_back_to_the_dashboard(client, executive, company, eager_tasks,
                                             django_capture_on_commit_callbacks):  # fmt: skip
    client.force_login(executive)
    back = f"{URL}?segment=Enterprise"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("economics:run_start"),
                               {"as_of": "2024-12-31", "next": back})  # fmt: skip
    assert response.status_code == 302 and response.url == back
    assert EconomicsRun.objects.filter(status="succeeded").count() == 2


def test_run_now_ignores_a_next_on_another_site(client, executive, company, eager_tasks,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    client.force_login(executive)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("economics:run_start"), {"as_of": "2024-12-31", "next": "https://evil.example/"}
        )
    run = EconomicsRun.objects.latest("created_at")
    assert response.url == reverse("economics:run_detail", args=[run.pk])


def test_trends_show_every_run_and_follow_the_filter(client, executive, company):
    run_economics(AS_OF + dt.timedelta(days=1))
    client.force_login(executive)
    url = reverse("economics:dashboard_trends")
    whole = client.get(url).context["rows"]
    assert [r["as_of"] for r in whole] == [AS_OF, AS_OF + dt.timedelta(days=1)]
    assert whole[0]["total_profit"] == company["run"].kpis["total_profit"]
    mid = client.get(url, {"segment": "Mid-market"}).context["rows"]
    assert len(mid) == 2
    expected = board.dashboard(company["run"], None, CustomerFilter(segment="Mid-market")).kpis
    assert mid[0]["total_profit"] == expected["total_profit"]


def test_model_health_shows_the_fit_and_the_holdout_check(client, executive, simulated_base):
    services.run_execute(services.run_request(as_of=AS_OF - dt.timedelta(days=120),
                                              holdout_end=AS_OF, enqueue=False).pk)  # fmt: skip
    run_economics()
    response = page(client, executive)
    bg = response.context["health"]["bgnbd"]
    assert [p["key"] for p in bg["parameters"]] == ["r", "alpha", "a", "b"]
    assert bg["n"] == len(simulated_base) and bg["log_likelihood"] < 0
    assert response.context["figures"]["holdout"]["data"]
    assert "Did the model predict well?" in response.content.decode()


# The session, the user and its groups; the current, active and previous runs; the
# blueprints; the run's figures: one grouped query, one fetch, the scatter's customers
# (with a filter also the filter's own look-up of the current run and the previous
# run's totals); the latest holdout check; the segments, the account managers.
@pytest.mark.parametrize(
    ("params", "queries"), [({}, 13), ({"segment": "Enterprise", "rep": "Ann"}, 15)]
)
def test_the_page_takes_a_fixed_number_of_queries(client, executive, company, params, queries,
                                                  django_assert_num_queries):  # fmt: skip
    run_economics(AS_OF + dt.timedelta(days=1))
    client.force_login(executive)
    cache.clear()
    with django_assert_num_queries(queries):
        response = client.get(URL, params)
    assert response.status_code == 200
    with django_assert_num_queries(8):  # the run's figures come from the cache
        client.get(URL, params)
