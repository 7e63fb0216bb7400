"""Script payloads, and a world whose customer-facing texts carry them: the customer's
name and segment, its ticket subjects, feedback insights and activity notes, a
blueprint's name and description, a commitment's title, a charter's notes and a case's
rationale. Used by ``test_xss.py`` (the HTML as the server sends it) and by
``tests/browser/test_xss.py`` (what Chromium does with it)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from accounts.personas import Persona
from customers.models import Customer, Feedback, SupportTicket
from cx import services as cx_services
from cx.models import Case
from economics import services as economics_services
from economics.models import CustomerFlag
from roles import services as roles_services
from roles.models import Charter, RoleBlueprint
from tests.economics.conftest import AS_OF, build_base
from tests.factories import (
    ActivityTypeFactory,
    CommitmentFactory,
    LifecycleExpectationFactory,
    RoleBlueprintFactory,
    ServiceActivityFactory,
    UserFactory,
)

SCRIPT = "<script>alert(1)</script>"
ATTRIBUTE = '"><img src=x onerror=alert(1)>'
BREAKOUT = "</script><script>alert(1)</script>"  # ends a json_script block if unescaped
PAYLOADS = (SCRIPT, ATTRIBUTE, BREAKOUT)
ALL = SCRIPT + ATTRIBUTE + BREAKOUT  # 94 characters: fits every text field below

PASSWORD = "correct-horse-battery"  # the factories' password


def json_script_text(text: str) -> str:
    """``text`` inside a JSON string as Django's ``json_script`` writes it."""
    inner = json.dumps(text)[1:-1]
    return inner.replace("&", "\\u0026").replace("<", "\\u003C").replace(">", "\\u003E")


def shown_escaped(html: str) -> bool:
    """Whether a payload is on the page in one of the escaped forms a person sees as
    text: HTML-escaped, inside json_script, or HTML-escaped for plotly and then inside
    json_script."""
    return any(
        escape(p) in html or json_script_text(p) in html or json_script_text(escape(p)) in html
        for p in PAYLOADS
    )


@dataclass
class XssWorld:
    users: dict[Persona, object]
    customer: Customer
    blueprint: RoleBlueprint
    charter: Charter
    case: Case
    share_token: str

    def urls(self) -> dict[str, str]:
        return {
            "customer": str(self.customer.pk),
            "blueprint": str(self.blueprint.pk),
            "charter": str(self.charter.pk),
            "case": str(self.case.pk),
            "token": self.share_token,
        }


# Page → the personas that may open it and see the payloads there ("anonymous" opens
# only the shared charter). Every other persona × page is asked too: whatever it
# answers must not carry a payload unescaped.
PAGES = {
    "/": [Persona.ACCOUNT_MANAGER, Persona.CX],
    "/customers/": [Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.CX, Persona.ADMIN],
    "/customers/{customer}/": [
        Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.CX, Persona.ADMIN,
    ],
    "/economics/dashboard/": [Persona.EXECUTIVE, Persona.CX, Persona.ADMIN],
    "/cx/": [Persona.EXECUTIVE, Persona.CX, Persona.ADMIN],
    "/cx/cases/{case}/": [Persona.EXECUTIVE, Persona.CX, Persona.ADMIN],
    "/roles/blueprints/": [Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.CX, Persona.ADMIN],
    "/roles/blueprints/{blueprint}/": [Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.ADMIN],
    "/roles/charters/{charter}/": [Persona.ACCOUNT_MANAGER, Persona.EXECUTIVE, Persona.CX],
    "/roles/charters/{charter}/print/": [Persona.ACCOUNT_MANAGER],
    "/roles/shared/{token}/": ["anonymous"],
}  # fmt: skip


def build_xss_world() -> XssWorld:
    users = {p: UserFactory(username=p.name.lower(), persona=p) for p in Persona}
    manager, cx = users[Persona.ACCOUNT_MANAGER], users[Persona.CX]
    ids = build_base(n=120, seed=5)
    # A complainer of the simulated base (flagged by the run), now with payloads.
    customer = Customer.objects.get(pk=ids[0])
    customer.name = f"Acme {ALL}"
    customer.segment = f"Seg {SCRIPT}"
    customer.account_manager = manager
    customer.save(update_fields=["name", "segment", "account_manager"])
    SupportTicket.objects.filter(customer=customer).update(subject=f"Help {ALL}")
    Feedback.objects.create(
        customer=customer, external_id="XSS-F1", date=dt.date(2024, 6, 1),
        kind=Feedback.Kind.SUGGESTION, insight=f"Idea {ALL}",
    )  # fmt: skip
    ServiceActivityFactory(
        customer=customer, activity_type=ActivityTypeFactory(code="visit"), note=f"Note {ALL}"
    )

    blueprint = RoleBlueprintFactory(name=f"Role {ALL}", description=f"About {ALL}")
    LifecycleExpectationFactory(blueprint=blueprint)
    CommitmentFactory(blueprint=blueprint, title=f"Promise {ALL}", yearly_cost=Decimal("100"))
    charter = roles_services.charter_create(
        customer=customer, blueprint=blueprint, user=manager, notes=f"Notes {ALL}"
    )
    roles_services.charter_propose(charter=charter, user=manager)
    charter = roles_services.charter_agree(
        charter=charter, agreed_on=dt.date(2024, 3, 1), agreed_by=f"Jane {SCRIPT}", user=manager
    )
    _link, token = roles_services.share_link_create(charter=charter, user=manager)

    run = economics_services.run_execute(
        economics_services.run_request(as_of=AS_OF, enqueue=False).pk
    )
    if not CustomerFlag.objects.filter(customer=customer, status="open").exists():
        CustomerFlag.objects.create(
            customer=customer, kind="inherently_unhappy", raised_by=run, last_seen_by=run
        )
    case = cx_services.case_open(customer=customer, user=cx, assignee=cx)
    cx_services.case_start_review(case=case, user=cx, note=f"Looking {ALL}")
    case = cx_services.case_decide(
        case=case, decision=Case.Decision.FIX_OUR_SIDE, rationale=f"Because {ALL}", user=cx
    )
    return XssWorld(
        users=users,
        customer=customer,
        blueprint=blueprint,
        charter=charter,
        case=case,
        share_token=token,
    )
