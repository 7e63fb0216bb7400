"""An executive opens the dashboard after a few economics runs: every chart is drawn by
our own plotly.js with data in it, nothing goes wrong in the console, and a click on a
bar lists the customers behind it."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.personas import Persona
from customers.models import Customer
from economics import services
from tests.economics.conftest import AS_OF, build_base
from tests.factories import (
    AgreedCharterFactory,
    LifecycleExpectationFactory,
    RoleBlueprintFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS = ["whale", "distribution", "fit", "spend", "segments", "blueprints", "reps", "channels",
          "trends", "holdout"]  # fmt: skip


@pytest.fixture
def company():
    ids = build_base(n=400)
    customers = Customer.objects.in_bulk(ids)
    roles = []
    for name, target in [("Growth account", "2"), ("Strategic partner", "6")]:
        role = RoleBlueprintFactory(name=name)
        LifecycleExpectationFactory(blueprint=role, target=Decimal(target))
        roles.append(role)
    for k, pk in enumerate(ids[:260]):
        AgreedCharterFactory(customer=customers[pk], blueprint=roles[k % 2])
    UserFactory(username="executive", first_name="Erin", last_name="Exec",
                persona=Persona.EXECUTIVE)  # fmt: skip
    for as_of, holdout_end in [(AS_OF - dt.timedelta(days=120), AS_OF),
                               (AS_OF - dt.timedelta(days=30), None), (AS_OF, None)]:  # fmt: skip
        run = services.run_request(as_of=as_of, holdout_end=holdout_end, enqueue=False)
        services.run_execute(run.pk)


def test_executive_reads_the_dashboard_and_drills_down(live_server, page, screenshot, company):
    base = live_server.url
    page.goto(f"{base}/accounts/login/?next=/economics/dashboard/")
    page.fill("input[name=username]", "executive")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "Executive dashboard" in page.inner_text("h1")

    # Every chart is drawn, with data points in it (the trends arrive after the page).
    page.wait_for_selector("[data-figure=chart-trends] .main-svg")
    for name in CHARTS:
        chart = page.locator(f"[data-figure=chart-{name}]")
        assert chart.locator(".main-svg").count() >= 1, name
        marks = chart.locator(".bars .point, .scatterlayer .point, .scatterlayer .js-line")
        assert marks.count() > 0, name
    assert page.locator("[data-testid=dashboard-kpis] [data-kpi]").count() == 6
    assert page.locator("[data-testid=kpi-change]").count() == 6
    assert "The top" in page.inner_text("[data-testid=whale-sentence]")
    page.mouse.move(0, 0)
    screenshot(page, "dashboard-executive")
    assert page.console_errors == []

    # A filter applies to the page; a click on a bar lists that bar's customers, with
    # the filter kept.
    page.select_option("[data-testid=dashboard-filters] select[name=rep]", "Ann")
    page.click("[data-testid=dashboard-filters] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "rep=Ann" in page.url
    bar = page.locator("[data-figure=chart-segments] .bars .point path").first
    page.locator("[data-testid=card-segments]").scroll_into_view_if_needed()
    box = bar.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.wait_for_selector("[data-figure=chart-segments] .hoverlayer .hovertext")
    page.mouse.click(x, y)
    page.wait_for_url("**/customers/?*")
    assert "rep=Ann" in page.url and "segment=" in page.url
    table = page.inner_text("[data-testid=customer-table]")
    assert "Simulated" in table
    assert page.console_errors == []
