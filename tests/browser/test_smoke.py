"""Each persona signs in through the real login form and lands on its home page."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.personas import Persona
from tests.factories import (
    AgreedCharterFactory,
    CustomerFactory,
    OrderFactory,
    SupportTicketFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"

HOMES = {
    Persona.ACCOUNT_MANAGER: ("Good to see you", "[data-testid=my-customers]"),
    Persona.EXECUTIVE: ("Company overview", "#monthly-sales"),
    Persona.CX: ("Customer experience", "[data-testid=recent-complaints]"),
    Persona.ADMIN: ("Data and operations", "#monthly-sales"),
    Persona.INTEGRATOR: ("Data feeds", "[data-testid=data-counts]"),
}


@pytest.fixture
def company():
    manager = UserFactory(username="account_manager", persona=Persona.ACCOUNT_MANAGER)
    today = timezone.localdate()
    for i in range(5):
        customer = CustomerFactory(name=f"Customer {i}", account_manager=manager)
        for months_ago in range(0, 12, 3):
            OrderFactory(
                customer=customer,
                date=today - dt.timedelta(days=30 * months_ago),
                revenue=Decimal("900.00") + i,
            )
        SupportTicketFactory(customer=customer, is_complaint=i % 2 == 0, subject="Broken part")
        AgreedCharterFactory(customer=customer)
    for persona in Persona:
        if persona != Persona.ACCOUNT_MANAGER:
            UserFactory(username=persona.name.lower(), persona=persona)


@pytest.mark.parametrize("persona", list(Persona), ids=lambda p: p.name.lower())
def test_each_persona_signs_in_and_sees_its_home(live_server, page, screenshot, company, persona):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    page.fill("input[name=username]", persona.name.lower())
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")

    heading, landmark = HOMES[persona]
    assert heading in page.inner_text("h1")
    assert page.locator(landmark).count() == 1
    assert persona.label in page.inner_text("[data-testid=whoami]")
    if landmark.startswith("#"):
        # The chart is drawn by plotly.js from our own static files, with data in it.
        page.wait_for_selector(".tango-chart .main-svg")
        assert page.locator(".tango-chart .bars .point").count() > 0
    screenshot(page, f"home-{persona.name.lower()}")
    assert page.console_errors == []
