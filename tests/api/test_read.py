"""Reading through the REST API follows the persona's rights."""

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.factories import (
    ActivityTypeFactory,
    AgreedCharterFactory,
    CustomerFactory,
    FeedbackFactory,
    InvoiceFactory,
    LifecycleExpectationFactory,
    OrderFactory,
    ReferralFactory,
    ServiceActivityFactory,
    SupportTicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

KINDS = ["customers", "orders", "invoices", "tickets", "activities", "referrals", "feedback"]


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def world(account_manager, other_account_manager):
    mine = CustomerFactory(external_id="MINE", account_manager=account_manager)
    theirs = CustomerFactory(external_id="THEIRS", account_manager=other_account_manager)
    for customer in (mine, theirs):
        tag = customer.external_id
        OrderFactory(external_id=f"O-{tag}-1", customer=customer, date=dt.date(2024, 1, 10))
        OrderFactory(external_id=f"O-{tag}-2", customer=customer, date=dt.date(2024, 6, 10))
        InvoiceFactory(external_id=f"I-{tag}", customer=customer)
        SupportTicketFactory(external_id=f"T-{tag}", customer=customer)
        ServiceActivityFactory(
            external_id=f"A-{tag}",
            customer=customer,
            activity_type=ActivityTypeFactory(code="visit"),
        )
        FeedbackFactory(external_id=f"F-{tag}", customer=customer)
    ReferralFactory(external_id="R-MINE", referrer=mine, referred=None)
    ReferralFactory(external_id="R-THEIRS", referrer=theirs, referred=None)
    AgreedCharterFactory(customer=mine)
    AgreedCharterFactory(customer=theirs)
    return mine, theirs


def keys(response) -> set[str]:
    return {r["external_id"] for r in response.json()["results"]}


@pytest.mark.parametrize("kind", KINDS)
def test_an_account_manager_reads_only_their_customers_data(api, account_manager, world, kind):
    api.force_authenticate(account_manager)
    response = api.get(f"/api/v1/{kind}/")
    assert response.status_code == 200
    found = keys(response)
    assert found
    assert all("MINE" in k for k in found)
    assert not any("THEIRS" in k for k in found)


@pytest.mark.parametrize("kind", KINDS)
def test_another_managers_record_is_404(api, other_account_manager, world, kind):
    api.force_authenticate(other_account_manager)
    key = {"customers": "MINE", "orders": "O-MINE-1", "invoices": "I-MINE", "tickets": "T-MINE",
           "activities": "A-MINE", "referrals": "R-MINE", "feedback": "F-MINE"}[kind]  # fmt: skip
    assert api.get(f"/api/v1/{kind}/{key}/").status_code == 404
    own = key.replace("MINE", "THEIRS")
    assert api.get(f"/api/v1/{kind}/{own}/").status_code == 200


@pytest.mark.parametrize("persona", ["executive", "cx_analyst", "admin_user", "integrator"])
@pytest.mark.parametrize("kind", KINDS)
def test_readers_of_every_customer_read_all_data(api, request, world, persona, kind):
    api.force_authenticate(request.getfixturevalue(persona))
    response = api.get(f"/api/v1/{kind}/")
    assert response.status_code == 200
    assert {"MINE", "THEIRS"} <= {k.split("-")[1] if "-" in k else k for k in keys(response)}


def test_records_read_back_in_import_shape(api, executive, world):
    api.force_authenticate(executive)
    order = api.get("/api/v1/orders/O-MINE-1/").json()
    assert order == {
        "id": order["id"],
        "external_id": "O-MINE-1",
        "customer": "MINE",
        "date": "2024-01-10",
        "revenue": "1000.00",
        "cost": "600.00",
        "category": "Hardware",
        "kind": "repeat",
    }
    activity = api.get("/api/v1/activities/A-MINE/").json()
    assert (activity["customer"], activity["activity_type"], activity["quantity"]) == (
        "MINE",
        "visit",
        "1.00",
    )
    customer = api.get("/api/v1/customers/MINE/").json()
    assert (customer["account_manager"], customer["acquisition_cost"]) == ("am", "500.00")


def test_filter_by_customer_and_date_range(api, executive, world):
    api.force_authenticate(executive)
    response = api.get("/api/v1/orders/", {"customer": "MINE"})
    assert keys(response) == {"O-MINE-1", "O-MINE-2"}
    response = api.get("/api/v1/orders/", {"date_from": "2024-02-01", "date_to": "2024-12-31"})
    assert keys(response) == {"O-MINE-2", "O-THEIRS-2"}
    response = api.get("/api/v1/tickets/", {"date_from": "2024-03-04", "date_to": "2024-03-04"})
    assert len(keys(response)) == 2
    response = api.get("/api/v1/referrals/", {"customer": "THEIRS"})
    assert keys(response) == {"R-THEIRS"}


def test_a_bad_filter_is_a_400(api, executive, world):
    api.force_authenticate(executive)
    response = api.get("/api/v1/orders/", {"date_from": "last week"})
    assert response.status_code == 400
    assert "date_from" in response.json()
    response = api.get("/api/v1/orders/", {"date_from": "2024-05-01", "date_to": "2024-01-01"})
    assert response.status_code == 400


def test_pages_of_a_chosen_size(api, executive):
    customer = CustomerFactory()
    OrderFactory.create_batch(25, customer=customer)
    api.force_authenticate(executive)
    first = api.get("/api/v1/orders/", {"page_size": 10}).json()
    assert (first["count"], len(first["results"])) == (25, 10)
    assert "page=2" in first["next"]
    third = api.get("/api/v1/orders/", {"page_size": 10, "page": 3}).json()
    assert len(third["results"]) == 5
    assert third["next"] is None


def test_listing_runs_a_fixed_number_of_queries(api, executive, django_assert_max_num_queries):
    for _ in range(20):
        InvoiceFactory(order=OrderFactory())
    api.force_authenticate(executive)
    with django_assert_max_num_queries(6):
        assert api.get("/api/v1/invoices/").status_code == 200


def test_blueprints_and_charters_for_role_readers(api, account_manager, world):
    LifecycleExpectationFactory(target=Decimal("4"))
    api.force_authenticate(account_manager)
    blueprints = api.get("/api/v1/blueprints/").json()["results"]
    assert any(b["expectations"] for b in blueprints)
    charters = api.get("/api/v1/charters/").json()["results"]
    assert [c["customer"] for c in charters] == ["MINE"]
    assert charters[0]["status"] == "agreed"


def test_integrators_do_not_read_roles(api, integrator, world):
    api.force_authenticate(integrator)
    assert api.get("/api/v1/blueprints/").status_code == 403
    assert api.get("/api/v1/charters/").status_code == 403


def test_a_user_without_persona_reads_nothing(api, world):
    api.force_authenticate(UserFactory(username="nobody"))
    assert api.get("/api/v1/customers/").status_code == 403


def test_anonymous_gets_401_and_a_token_signs_in(api, integrator, world):
    assert api.get("/api/v1/customers/").status_code == 401
    token = Token.objects.create(user=integrator)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/v1/customers/").status_code == 200
    api.credentials(HTTP_AUTHORIZATION="Token wrong")
    assert api.get("/api/v1/customers/").status_code == 401


def test_schema_and_docs_pages_use_local_assets(client, integrator):
    client.force_login(integrator)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/v1/orders/bulk/" in paths
    assert "/api/v1/orders/{external_id}/" in paths
    assert "/api/v1/charters/" in paths
    docs = client.get("/api/docs/").content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in docs
    assert "cdn." not in docs and "googleapis" not in docs
    # Swagger UI's start-up script is a file of its own: no inline script for the CSP.
    assert "<script>" not in docs.replace(" ", "")


def test_docs_need_a_sign_in(client):
    response = client.get("/api/docs/")
    assert response.status_code == 302
    assert "/accounts/login" in response.url
    assert client.get("/api/schema/").status_code in (401, 403)


def test_the_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    target = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert "/api/v1/customers/bulk/" in target.read_text()
