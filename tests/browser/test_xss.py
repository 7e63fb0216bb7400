"""The pages that show names, notes and ticket texts seeded with script payloads, opened
in headless Chromium as the personas who see them: no payload runs (no ``alert``
dialog), no injected element appears, charts draw, and the console stays clean."""

from __future__ import annotations

import pytest

from accounts.personas import Persona
from tests.security.payloads import PAGES, PASSWORD, build_xss_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Who opens which pages: between them, every page of ``PAGES``.
VISITS = {
    Persona.EXECUTIVE: [p for p, who in PAGES.items() if Persona.EXECUTIVE in who],
    Persona.CX: ["/", "/cx/cases/{case}/"],
    Persona.ACCOUNT_MANAGER: ["/", "/roles/charters/{charter}/print/"],
    "anonymous": ["/roles/shared/{token}/"],
}


def test_no_payload_runs_in_the_browser(live_server, browser):
    world = build_xss_world()
    urls = world.urls()
    assert {p for pages in VISITS.values() for p in pages} == set(PAGES)
    for who, pages in VISITS.items():
        context = browser.new_context(viewport={"width": 1300, "height": 900})
        page = context.new_page()
        dialogs: list[str] = []
        errors: list[str] = []
        page.on("dialog", lambda d, dialogs=dialogs: (dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
        if who != "anonymous":
            page.goto(f"{live_server.url}/accounts/login/")
            page.fill("input[name=username]", who.name.lower())
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_load_state("networkidle")
        for template in pages:
            url = live_server.url + template.format(**urls)
            response = page.goto(url)
            page.wait_for_load_state("networkidle")
            assert response.status == 200, (who, url)
            for chart in page.locator("[data-figure]").all():
                chart.locator(".main-svg").first.wait_for()
            # Hovering the charts draws their hover labels, which carry the texts.
            for chart in page.locator("[data-figure] .nsewdrag").all()[:3]:
                chart.hover()
            assert page.locator("img[src='x']").count() == 0, (who, url)
            assert "alert(1)" in page.inner_text("body"), (who, url)  # shown as text
            assert dialogs == [], (who, url, dialogs)
            assert errors == [], (who, url, errors)
        context.close()
