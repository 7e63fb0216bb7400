"""Every page, as every persona that may open it, in headless Chromium: it renders,
its charts carry data, and the browser console stays free of errors (CSP violations
included)."""

import pytest

from accounts.personas import Persona
from economics import services
from roles import services as role_services
from roles.models import Charter, RoleBlueprint
from tests.economics.conftest import AS_OF, build_base
from tests.factories import (
    CommitmentFactory,
    LifecycleExpectationFactory,
    RoleBlueprintFactory,
    UserFactory,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"

# page → the personas that may open it (account managers: their own customer)
PAGES = {
    "/": list(Persona),
    "/economics/dashboard/": [Persona.EXECUTIVE, Persona.ADMIN, Persona.CX],
    "/customers/": [Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.CX, Persona.ADMIN],
    "/customers/{customer}/": [
        Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.CX, Persona.ADMIN,
    ],
    "/cx/": [Persona.EXECUTIVE, Persona.CX, Persona.ADMIN],
    "/roles/blueprints/": [Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.CX, Persona.ADMIN],
    "/roles/blueprints/{blueprint}/": [Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.ADMIN],
    "/roles/blueprints/{blueprint}/edit/": [Persona.ACCOUNT_MANAGER, Persona.ADMIN],
    "/roles/charters/{charter}/": [Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.CX],
    "/roles/charters/{charter}/print/": [Persona.ACCOUNT_MANAGER],
    "/economics/runs/": [Persona.EXECUTIVE, Persona.ADMIN],
    "/economics/runs/{run}/": [Persona.EXECUTIVE],
    "/economics/cost-model/": [Persona.EXECUTIVE, Persona.ADMIN],
    "/imports/": [Persona.ADMIN, Persona.INTEGRATOR],
    "/imports/history/": [Persona.INTEGRATOR],
    "/api/docs/": [Persona.INTEGRATOR],
}  # fmt: skip


@pytest.fixture
def world():
    users = {p: UserFactory(username=p.name.lower(), persona=p) for p in Persona}
    ids = build_base(n=250, seed=5)
    role = RoleBlueprintFactory(name="Growth account")
    LifecycleExpectationFactory(blueprint=role)
    CommitmentFactory(blueprint=role)
    from customers.models import Customer

    customer = Customer.objects.get(pk=ids[20])
    customer.account_manager = users[Persona.ACCOUNT_MANAGER]
    customer.save(update_fields=["account_manager"])
    manager = users[Persona.ACCOUNT_MANAGER]
    charter = role_services.charter_create(customer=customer, blueprint=role, user=manager)
    role_services.charter_propose(charter=charter, user=manager)
    role_services.charter_agree(charter=charter, agreed_on=AS_OF, agreed_by="Jane", user=manager)
    run = services.run_execute(services.run_request(as_of=AS_OF, enqueue=False).pk)
    return {
        "customer": customer.pk,
        "blueprint": RoleBlueprint.objects.get().pk,
        "charter": Charter.objects.get().pk,
        "run": run.pk,
    }


@pytest.mark.parametrize("persona", list(Persona), ids=lambda p: p.name.lower())
def test_every_page_renders_cleanly(live_server, browser, world, persona):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", persona.name.lower())
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    visited = 0
    for template, personas in PAGES.items():
        if persona not in personas:
            continue
        url = live_server.url + template.format(**world)
        response = page.goto(url)
        page.wait_for_load_state("networkidle")
        assert response.status == 200, url
        for chart in page.locator("[data-figure]").all():
            chart.locator(".main-svg").first.wait_for()
            assert chart.locator(".point, path.js-line, .waterfall .point").count() > 0, url
        assert errors == [], (url, errors)
        visited += 1
    assert visited >= 2
    context.close()
