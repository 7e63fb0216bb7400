"""An account manager writes a blueprint, assigns it, gets the charter agreed and
opens the share link the customer will get — all through the pages."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.personas import Persona
from roles.models import Charter, RoleBlueprint
from tests.factories import CustomerFactory, OrderFactory, SupportTicketFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def customer():
    manager = UserFactory(username="alice", persona=Persona.ACCOUNT_MANAGER)
    customer = CustomerFactory(
        name="Harbor Foods", account_manager=manager, acquired_on=dt.date(2023, 1, 1)
    )
    today = timezone.localdate()
    for days_ago in (20, 80, 140, 200, 260, 320):
        OrderFactory(
            customer=customer,
            date=today - dt.timedelta(days=days_ago),
            revenue=Decimal("5000"),
            cost=Decimal("3000"),
        )
    SupportTicketFactory(customer=customer, opened_at=timezone.now() - dt.timedelta(days=30))
    return customer


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def test_account_manager_from_blueprint_to_shared_charter(live_server, page, screenshot, customer):
    base = live_server.url
    sign_in(page, base)

    # A new blueprint starts from sensible defaults; the checks react while typing.
    page.goto(f"{base}/roles/blueprints/new/")
    page.fill("input[name=name]", "Harbor partner")
    page.fill("input[name=annual_value]", "1000")
    page.fill("input[name=purchases_per_year]", "6")
    page.fill("input[name=purchase_value]", "5000")
    page.locator("input[name=purchase_value]").dispatch_event("change")
    page.wait_for_selector("#findings:has-text('loss by design')")
    page.fill("input[name=annual_value]", "15000")
    page.locator("input[name=annual_value]").dispatch_event("change")
    page.wait_for_selector("#findings:has-text('gross margin of 50 %')")
    definition = page.locator("tr.metric-row").nth(1).locator(".metric-definition")
    assert "Days with at least one order" in definition.inner_text()
    screenshot(page, "workspace-blueprint-form")
    page.click("[data-testid=save-blueprint]")
    page.wait_for_load_state("networkidle")
    assert "is saved" in page.inner_text(".alert-success")
    blueprint = RoleBlueprint.objects.get(name="Harbor partner")
    assert blueprint.expectations.count() == 11
    assert blueprint.commitments.count() == 8
    screenshot(page, "workspace-blueprint-detail")

    # Assign it to the customer.
    page.goto(f"{base}/customers/{customer.pk}/")
    page.click("[data-testid=assign-role]")
    page.select_option("select[name=blueprint]", label="Harbor partner")
    page.click("button[type=submit]:has-text('Start the charter')")
    page.wait_for_load_state("networkidle")
    charter = Charter.objects.get(customer=customer)

    # Propose, then record the agreement.
    page.click("button:has-text('Propose to the customer')")
    page.wait_for_load_state("networkidle")
    page.fill("[data-testid=agree-form] input[name=agreed_by]", "Maria Lopez, COO")
    page.click("[data-testid=agree-form] button[type=submit]")
    page.wait_for_load_state("networkidle")
    charter.refresh_from_db()
    assert charter.status == Charter.Status.AGREED
    assert "Maria Lopez, COO" in page.inner_text("body")
    history = page.inner_text("[data-testid=charter-history]")
    assert "Agreed" in history and "Proposed" in history and "Created" in history

    # A share link for the customer, shown once.
    page.click("[data-testid=create-share-link]")
    page.wait_for_load_state("networkidle")
    url = page.get_attribute("[data-testid=share-url]", "href")
    screenshot(page, "workspace-charter")

    # The customer opens it without an account and sees both sides measured.
    context = page.context.browser.new_context(viewport={"width": 1200, "height": 900})
    guest = context.new_page()
    guest.goto(url)
    assert "Our charter with Harbor Foods" in guest.inner_text("h1")
    assert guest.locator("[data-testid=role-fit-score]").inner_text().strip().isdigit()
    assert guest.locator("[data-testid=compliance-score]").count() == 1
    screenshot(guest, "workspace-shared-charter")
    context.close()

    # The customer page shows the same scorecard.
    page.goto(f"{base}/customers/{customer.pk}/")
    assert page.locator("[data-testid=scorecard]").count() == 1
    screenshot(page, "workspace-customer")
    assert page.console_errors == []
