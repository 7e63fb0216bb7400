"""Customers with flags and a current economics run, for the worklist and cases."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from accounts.personas import Persona
from economics.models import CustomerFlag, CustomerScore, EconomicsRun
from tests.factories import CustomerFactory, UserFactory

DETAILS = {
    "unprofitable": "CLV -1,200",
    "costly_to_serve": "Cost to serve 9,000 a year against 4,000 of annual margin",
    "inherently_unhappy": "11.0 complaints a year",
    "at_risk": "P(active) 12%",
    "failed_by_us": "Commitment compliance 41/100",
}


@pytest.fixture
def run(db) -> EconomicsRun:
    return EconomicsRun.objects.create(
        as_of=dt.date(2024, 12, 31), status="succeeded", active=None, is_current=True
    )


def flagged(
    run: EconomicsRun | None,
    name: str,
    *kinds: str,
    clv: str = "-100",
    annual_value: str = "500",
    p_alive: float | None = 0.5,
    klass: str = "let_go",
    **customer,
):
    """A customer with a score in ``run`` and an open flag of each kind."""
    c = CustomerFactory(name=name, **customer)
    if run is not None:
        CustomerScore.objects.create(
            run=run,
            customer=c,
            clv=Decimal(clv),
            annual_value=Decimal(annual_value),
            p_alive=p_alive,
            klass=klass,
            flags=list(kinds),
        )
    for kind in kinds:
        CustomerFlag.objects.create(
            customer=c, kind=kind, detail=DETAILS[kind], raised_by=run, last_seen_by=run
        )
    return c


@pytest.fixture
def customer(run, account_manager):
    """Alice's customer, unprofitable and at risk."""
    return flagged(
        run, "Northwind Logistics", "unprofitable", "at_risk", account_manager=account_manager
    )


@pytest.fixture
def second_executive(db):
    return UserFactory(username="exec2", persona=Persona.EXECUTIVE)


@pytest.fixture
def cx_executive(db):
    """Someone in the CX team who is an executive too."""
    user = UserFactory(username="cxexec", persona=Persona.CX)
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get_or_create(name=Persona.EXECUTIVE.value)[0])
    return user
