"""One small world for the access tests, built once per test module: a simulated base
with a finished economics run, most of it owned by the first account manager, and one
of everything that has a URL of its own (charter, share link, case, checklist item,
flag, import job…), all of the first account manager's customer.

Each test runs in a savepoint inside the module's transaction, so what one request
changes (a retired blueprint, a proposed charter) is gone before the next."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import Client
from rest_framework.authtoken.models import Token

from accounts.personas import Persona
from customers.models import Customer, Order, SupportTicket
from cx import services as cx_services
from cx.models import Case, ExitChecklistItem
from economics import services as economics_services
from economics.models import CustomerFlag, EconomicsRun
from imports import services as import_services
from imports.models import ImportJob
from roles import services as roles_services
from roles.models import Charter, CharterShareLink, RoleBlueprint
from tests.economics.conftest import AS_OF, build_base
from tests.factories import (
    CommitmentFactory,
    CustomerFactory,
    FeedbackFactory,
    InvoiceFactory,
    LifecycleExpectationFactory,
    ReferralFactory,
    RoleBlueprintFactory,
    ServiceActivityFactory,
    UserFactory,
)

BASE_SIZE = 120  # enough customers for the CLV model to fit
OWNED = 60  # the first account manager's share of the base
OTHERS = 7  # the other account manager's share

# The columns of the matrix: who asks.
PERSONAS = (
    "anonymous",
    "owner",  # the account manager whose customer the URL names
    "other_am",  # another account manager
    "executive",
    "cx",
    "admin",
    "integrator",
    "inactive",  # signed in, then deactivated (an admin, the most powerful account)
)
# Who speaks to the REST API with a token rather than a session cookie.
TOKEN_PERSONAS = {"integrator", "inactive"}


@dataclass
class World:
    users: dict[str, object]
    sessions: dict[str, str]
    tokens: dict[str, str]
    customer: Customer  # the owner's, with a charter, a case, flags…
    spare: Customer  # another of the owner's, with nothing in progress
    others_customer: Customer  # the other account manager's
    blueprint: RoleBlueprint
    charter: Charter  # a draft, version 2 of the owner's customer's charter
    agreed: Charter  # version 1, agreed
    share_link: CharterShareLink
    share_token: str
    run: EconomicsRun
    case: Case
    checklist_item: ExitChecklistItem
    flag: CustomerFlag
    import_job: ImportJob
    records: dict[str, str] = field(default_factory=dict)  # API kind → external_id

    def client(self, persona: str, *, api: bool = False) -> Client:
        """A client signed in as ``persona``: a session cookie, or for the API the
        persona's token where it has one."""
        if api and persona in TOKEN_PERSONAS:
            return Client(HTTP_AUTHORIZATION=f"Token {self.tokens[persona]}")
        client = Client()
        if persona in self.sessions:
            client.cookies["sessionid"] = self.sessions[persona]
        return client


def _sign_in(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def build_world() -> World:
    am = UserFactory(username="am", persona=Persona.ACCOUNT_MANAGER)
    users = {
        "owner": am,
        "other_am": UserFactory(username="am2", persona=Persona.ACCOUNT_MANAGER),
        "executive": UserFactory(username="exec", persona=Persona.EXECUTIVE),
        "cx": UserFactory(username="cx", persona=Persona.CX),
        "admin": UserFactory(username="admin", persona=Persona.ADMIN),
        "integrator": UserFactory(username="integrator", persona=Persona.INTEGRATOR),
        "inactive": UserFactory(username="gone", persona=Persona.ADMIN),
    }
    sessions = {name: _sign_in(user) for name, user in users.items()}
    tokens = {
        name: Token.objects.create(user=users[name]).key for name in ("integrator", "inactive")
    }
    gone = users["inactive"]
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    ids = build_base(n=BASE_SIZE)
    Customer.objects.filter(pk__in=ids[:OWNED]).update(account_manager=am)
    Customer.objects.filter(pk__in=ids[OWNED : OWNED + OTHERS]).update(
        account_manager=users["other_am"]
    )
    customer = Customer.objects.get(pk=ids[0])  # a complainer: flagged by the run
    spare = Customer.objects.get(pk=ids[1])
    others_customer = Customer.objects.get(pk=ids[OWNED])

    blueprint = RoleBlueprintFactory(name="Growth account")
    LifecycleExpectationFactory(blueprint=blueprint)
    CommitmentFactory(blueprint=blueprint, yearly_cost=Decimal("1200.00"))
    agreed = roles_services.charter_create(customer=customer, blueprint=blueprint, user=am)
    roles_services.charter_propose(charter=agreed, user=am)
    agreed = roles_services.charter_agree(
        charter=agreed, agreed_on=dt.date(2024, 3, 1), agreed_by="Jane Buyer", user=am
    )
    charter = roles_services.charter_new_version(charter=agreed, user=am)
    share_link, share_token = roles_services.share_link_create(charter=charter, user=am)
    # The other manager has a charter too, so counting charters says something.
    roles_services.charter_create(
        customer=others_customer, blueprint=blueprint, user=users["other_am"]
    )

    run = economics_services.run_execute(
        economics_services.run_request(as_of=AS_OF, enqueue=False).pk
    )
    flag = CustomerFlag.objects.filter(customer=customer, status="open").first()
    if flag is None:  # the model did not flag it this time: raise one by hand
        flag = CustomerFlag.objects.create(
            customer=customer, kind="inherently_unhappy", raised_by=run, last_seen_by=run
        )
    case = cx_services.case_open(customer=customer, user=users["cx"], assignee=users["cx"])
    checklist_item = ExitChecklistItem.objects.create(
        case=case, step=ExitChecklistItem.Step.SETTLE_INVOICES, position=1
    )

    result = import_services.import_run(
        kind="orders",
        source=[{"external_id": "BAD1", "customer_id": "NOPE", "date": "2024-01-01"}],
        user=users["integrator"],
        origin=ImportJob.Origin.WEB,
        file_name="orders.csv",
    )
    result.close()
    import_job = ImportJob.objects.get(pk=result.job_id)

    records = {
        "customers": customer.external_id,
        "orders": Order.objects.filter(customer=customer).first().external_id,
        "tickets": SupportTicket.objects.filter(customer=customer).first().external_id,
        "invoices": InvoiceFactory(customer=customer).external_id,
        "activities": ServiceActivityFactory(customer=customer).external_id,
        "referrals": ReferralFactory(referrer=customer).external_id,
        "feedback": FeedbackFactory(customer=customer).external_id,
    }
    # A record of a customer nobody manages: the owner's lists must not count it.
    CustomerFactory(name="Unassigned Ltd")

    return World(
        users=users,
        sessions=sessions,
        tokens=tokens,
        customer=customer,
        spare=spare,
        others_customer=others_customer,
        blueprint=blueprint,
        charter=charter,
        agreed=agreed,
        share_link=share_link,
        share_token=share_token,
        run=run,
        case=case,
        checklist_item=checklist_item,
        flag=flag,
        import_job=import_job,
        records=records,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """Built once for the module in a transaction that is rolled back at its end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            built = build_world()
        except BaseException:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            raise
    yield built
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        atomic.__exit__(None, None, None)
