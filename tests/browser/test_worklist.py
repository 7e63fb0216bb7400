"""The CX team works the worklist of a real economics run: opens cases in bulk, proposes
to let a customer go; an executive approves, and the customer is released with an exit
checklist — all through the pages."""

import pytest

from accounts.personas import Persona
from customers.models import Customer
from cx.models import Case
from economics import services as economics_services
from tests.economics.conftest import AS_OF, build_base
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def flagged_base():
    build_base(n=300)
    run = economics_services.run_request(as_of=AS_OF, enqueue=False)
    economics_services.run_execute(run.pk)
    UserFactory(username="carla", first_name="Carla", last_name="Diaz", persona=Persona.CX)
    UserFactory(username="eve", first_name="Eve", last_name="Stone", persona=Persona.EXECUTIVE)


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")


def sign_out(page) -> None:
    page.click("button:has-text('Sign out')")
    page.wait_for_load_state("networkidle")


def test_cx_opens_cases_in_bulk_and_an_executive_approves_a_let_go(
    live_server, page, screenshot, flagged_base
):
    base = live_server.url
    sign_in(page, base, "carla")

    # The home page leads to the worklist.
    page.click("[data-testid=open-worklist]")
    page.wait_for_load_state("networkidle")
    assert "Worklist" in page.inner_text("h1")
    rows = page.locator("[data-testid=worklist-row]")
    assert rows.count() > 2
    first_two = [rows.nth(i).get_attribute("data-customer") for i in range(2)]

    # Nothing selected: the bulk buttons wait. Select all, then just two rows.
    assert page.locator("[data-testid=bulk-open-cases]").is_disabled()
    page.check("[data-testid=select-all]")
    assert f"{rows.count()} customers selected" in page.inner_text("[data-selected-count]")
    page.uncheck("[data-testid=select-all]")
    for pk in first_two:
        page.check(f"[data-testid=worklist-row][data-customer='{pk}'] input[name=customers]")
    assert "2 customers selected" in page.inner_text("[data-selected-count]")
    page.click("[data-testid=bulk-open-cases]")
    page.wait_for_load_state("networkidle")
    assert "Cases opened for 2 customers." in page.inner_text(".alert-success")
    assert Case.objects.filter(customer_id__in=first_two).count() == 2
    assert page.locator("[data-testid=case-link]").count() == 2
    screenshot(page, "worklist-cx")

    # Open the first case, review it and propose to let the customer go.
    page.locator(f"[data-testid=worklist-row][data-customer='{first_two[0]}'] "
                 "[data-testid=case-link]").click()  # fmt: skip
    page.wait_for_load_state("networkidle")
    assert "Case #" in page.inner_text("h1")
    page.click("[data-testid=start-review]")
    page.wait_for_load_state("networkidle")
    page.check("input[name=decision][value=let_go]")
    page.fill("textarea[name=rationale]", "Every order loses money and nine complaints a year.")
    page.click("[data-testid=decide]")
    page.wait_for_load_state("networkidle")
    assert "An executive must now approve it." in page.inner_text(".alert-success")
    assert "awaiting an executive's approval" in page.inner_text("[data-testid=approval-panel]")
    case_url = page.url
    case = Case.objects.get(customer_id=first_two[0])
    assert case.awaits_approval
    assert page.console_errors == []
    sign_out(page)

    # The executive finds it from the worklist and approves.
    sign_in(page, base, "eve")
    page.goto(f"{base}/cx/")
    page.click("[data-testid=awaiting-approval]")
    page.wait_for_load_state("networkidle")
    assert page.locator("[data-testid=worklist-row]").count() == 1
    page.click("[data-testid=case-link]")
    page.wait_for_load_state("networkidle")
    assert page.url == case_url
    screenshot(page, "case-awaiting-approval")
    page.click("[data-testid=approve-let-go]")
    page.wait_for_load_state("networkidle")
    assert "is released" in page.inner_text(".alert-success")
    assert "Released" in page.inner_text("[data-testid=customer-status]")
    assert page.locator("[data-testid=checklist-item]").count() == 5
    timeline = page.inner_text("[data-testid=case-timeline]")
    for step in ("Opened", "Review started", "Decided", "Let-go approved", "Customer released"):
        assert step in timeline
    customer = Customer.objects.get(pk=first_two[0])
    assert customer.status == Customer.Status.RELEASED
    assert customer.released_on is not None
    screenshot(page, "case-let-go")
    assert page.console_errors == []
