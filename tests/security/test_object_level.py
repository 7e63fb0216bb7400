"""Nobody sees what is not theirs: an account manager asking for another manager's
objects by id gets the answer a missing id gets, and every list, export, API result and
home-page total counts only what the persona may see.

The expected counts come from how the world was built (``OWNED`` of the base are the
owner's, ``OTHERS`` the other manager's, the rest nobody's), not from the code under
test."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from customers.models import Customer, Order
from roles.models import Charter

from .conftest import BASE_SIZE, OTHERS, OWNED, World

pytestmark = pytest.mark.django_db

EVERYONE = BASE_SIZE + 1  # the simulated base and one customer nobody manages
MISSING = 999_999


def _others_draft(w: World) -> Charter:
    return Charter.objects.get(customer=w.others_customer)


# name, method, the URL's parameters for an object of the other manager's
OTHERS_OBJECTS = [
    ("customers:detail", "GET", lambda w: {"pk": w.others_customer.pk}),
    ("roles:charter_assign", "GET", lambda w: {"customer_pk": w.others_customer.pk}),
    ("roles:charter_detail", "GET", lambda w: {"pk": _others_draft(w).pk}),
    ("roles:charter_edit", "GET", lambda w: {"pk": _others_draft(w).pk}),
    ("roles:charter_print", "GET", lambda w: {"pk": _others_draft(w).pk}),
    ("roles:charter_compare", "GET", lambda w: {"pk": _others_draft(w).pk}),
    ("roles:charter_transition", "POST", lambda w: {"pk": _others_draft(w).pk}),
    ("roles:share_link_create", "POST", lambda w: {"pk": _others_draft(w).pk}),
    ("api:customers-detail", "GET", lambda w: {"external_id": w.others_customer.external_id}),
    ("api:charters-detail", "GET", lambda w: {"pk": _others_draft(w).pk}),
]


def _missing(kwargs: dict) -> dict:
    return {k: (MISSING if isinstance(v, int) else "NO-SUCH-ID") for k, v in kwargs.items()}


@pytest.mark.parametrize(
    ("name", "method", "kwargs"), OTHERS_OBJECTS, ids=[n for n, _, _ in OTHERS_OBJECTS]
)
def test_another_managers_object_looks_like_a_missing_one(world, name, method, kwargs):
    client = world.client("owner")
    theirs = reverse(name, kwargs=kwargs(world))
    nothing = reverse(name, kwargs=_missing(kwargs(world)))
    ask = client.get if method == "GET" else client.post
    response = ask(theirs, {"action": "propose"} if method == "POST" else {})
    assert response.status_code == 404
    assert ask(nothing).status_code == 404
    assert world.others_customer.name not in response.content.decode()


def test_an_account_managers_case_of_another_managers_customer_is_404(world):
    """The owner's case, asked for by the other manager, for every case URL."""
    client = world.client("other_am")
    assert client.get(reverse("cx:case_detail", args=[world.case.pk])).status_code == 404
    item = reverse("cx:checklist_tick", args=[world.case.pk, world.checklist_item.pk])
    assert client.post(item, {"done": "1"}).status_code == 404


def test_the_share_link_of_another_managers_charter_cannot_be_revoked(world):
    response = world.client("other_am").post(
        reverse("roles:share_link_revoke", args=[world.share_link.pk])
    )
    assert response.status_code == 404
    world.share_link.refresh_from_db()
    assert world.share_link.revoked_at is None


@pytest.mark.parametrize("name", ["imports:detail", "imports:progress", "imports:errors"])
def test_imports_by_id_tell_an_account_manager_nothing(world, name):
    """Imports are the admins' and integrators' only: an account manager gets the same
    answer for an import that exists and one that does not."""
    client = world.client("owner")
    extra = {"fmt": "csv"} if name == "imports:errors" else {}
    there = client.get(reverse(name, kwargs={"pk": world.import_job.pk, **extra}))
    not_there = client.get(reverse(name, kwargs={"pk": MISSING, **extra}))
    assert there.status_code == not_there.status_code == 403


# --- lists, exports, API results and totals ------------------------------------------

SEES = {
    "owner": OWNED,
    "other_am": OTHERS,
    "executive": EVERYONE,
    "cx": EVERYONE,
    "admin": EVERYONE,
}


@pytest.mark.parametrize(("persona", "count"), SEES.items())
def test_the_customer_list_counts_what_the_persona_may_see(world, persona, count):
    response = world.client(persona).get(reverse("customers:list"))
    assert response.context["page"].paginator.count == count


def _csv_rows(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))[1:]


@pytest.mark.parametrize(("persona", "count"), SEES.items())
def test_the_customer_export_has_a_row_per_customer_the_persona_may_see(world, persona, count):
    response = world.client(persona).get(reverse("customers:export", args=["csv"]))
    assert len(_csv_rows(response)) == count


def test_filtering_on_another_manager_does_not_widen_what_an_account_manager_sees(world):
    others = {"manager": world.users["other_am"].pk}
    url = reverse("customers:export", args=["csv"])
    assert _csv_rows(world.client("owner").get(url, others)) == []
    assert len(_csv_rows(world.client("executive").get(url, others))) == OTHERS
    listed = world.client("owner").get(reverse("customers:list"), {"q": world.others_customer.name})
    assert listed.context["page"].paginator.count == 0


API_SEES = {**SEES, "integrator": EVERYONE}


@pytest.mark.parametrize(("persona", "count"), API_SEES.items())
def test_the_api_counts_the_customers_the_persona_may_see(world, persona, count):
    response = world.client(persona, api=True).get(reverse("api:customers-list"))
    assert response.json()["count"] == count


@pytest.mark.parametrize("persona", ["owner", "other_am", "executive"])
def test_the_api_counts_only_the_orders_of_visible_customers(world, persona):
    orders = Order.objects.all()
    if persona in ("owner", "other_am"):
        orders = orders.filter(customer__account_manager=world.users[persona])
    response = world.client(persona, api=True).get(reverse("api:orders-list"))
    assert response.json()["count"] == orders.count() > 0


def test_the_api_finds_nothing_when_asked_for_another_managers_customer(world):
    theirs = {"customer": world.others_customer.external_id}
    mine = world.client("owner", api=True)
    assert mine.get(reverse("api:orders-list"), theirs).json()["count"] == 0
    assert mine.get(reverse("api:charters-list"), theirs).json()["count"] == 0
    everyone = world.client("executive", api=True)
    assert everyone.get(reverse("api:charters-list"), theirs).json()["count"] == 1


@pytest.mark.parametrize(("persona", "count"), [("owner", 2), ("other_am", 1), ("executive", 3)])
def test_the_api_counts_the_charters_the_persona_may_see(world, persona, count):
    response = world.client(persona, api=True).get(reverse("api:charters-list"))
    assert response.json()["count"] == count


def test_the_account_managers_home_totals_count_their_customers_only(world):
    context = world.client("owner").get(reverse("home")).context
    mine = world.users["owner"]
    flagged = Customer.objects.filter(flags__status="open").distinct()
    assert context["my_customer_count"] == OWNED
    assert context["flagged_count"] == flagged.filter(account_manager=mine).count()
    assert 0 < context["flagged_count"] < flagged.count()
    assert {c.account_manager_id for c in context["my_customers"]} == {mine.pk}


def test_the_executives_home_counts_every_customer(world):
    context = world.client("executive").get(reverse("home")).context
    assert context["customer_count"] == EVERYONE


def test_assigning_a_blueprint_to_the_whole_list_touches_only_the_managers_customers(world):
    before = Charter.objects.count()
    response = world.client("owner").post(
        reverse("roles:charter_assign_many"), {"assign-blueprint": world.blueprint.pk}
    )
    assert response.status_code == 302
    made = Charter.objects.order_by("-pk")[: Charter.objects.count() - before]
    # Every one of the owner's customers but the one with a draft already.
    assert len(made) == OWNED - 1
    assert {c.customer.account_manager_id for c in made} == {world.users["owner"].pk}


def test_a_deactivated_users_token_no_longer_writes(world):
    response = world.client("inactive", api=True).generic(
        "POST",
        reverse("api:orders-bulk"),
        json.dumps({"rows": [{"external_id": "X1"}]}),
        "application/json",
    )
    assert response.status_code == 401
