"""Writing through the REST API: the import's validation, all or nothing, errors as JSON
in the import's shape; only integrators and admins write."""

from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from customers.models import Customer, Order
from imports.models import ImportJob
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db

ROWS = [
    {
        "external_id": "O1",
        "customer": "C1",
        "date": "2024-02-01",
        "revenue": "1000.00",
        "cost": 600,
    },
    {"external_id": "O2", "customer": "C1", "date": "2024-03-01", "revenue": 250.5},
]


@pytest.fixture
def api(integrator):
    client = APIClient()
    client.force_authenticate(integrator)
    return client


@pytest.fixture
def customer():
    return CustomerFactory(external_id="C1")


def test_bulk_upsert_creates_then_reports_unchanged(api, customer, integrator):
    response = api.post("/api/v1/orders/bulk/", {"rows": ROWS}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["created"], body["updated"], body["unchanged"]) == (
        "imported",
        2,
        0,
        0,
    )
    assert Order.objects.get(external_id="O2").revenue == Decimal("250.50")
    job = ImportJob.objects.get(pk=body["job"])
    assert (job.origin, job.created_by, job.status) == ("api", integrator, "succeeded")
    again = api.post("/api/v1/orders/bulk/", ROWS, format="json").json()  # a bare list works too
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_bulk_upsert_with_a_bad_row_writes_nothing_and_lists_the_errors(api, customer):
    rows = [*ROWS, {"external_id": "O3", "customer": "C9", "date": "2024-13-01", "revenue": "x"}]
    response = api.post("/api/v1/orders/bulk/", {"rows": rows}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "rejected"
    assert body["errors"] == [
        {
            "row": 3,
            "column": "customer",
            "value": "C9",
            "code": "unknown_reference",
            "reason": "no customer has this external_id",
        },
        {
            "row": 3,
            "column": "date",
            "value": "2024-13-01",
            "code": "invalid_date",
            "reason": "is not a date (YYYY-MM-DD)",
        },
        {
            "row": 3,
            "column": "revenue",
            "value": "x",
            "code": "invalid_amount",
            "reason": "is not an amount (digits with a dot as decimal separator, e.g. 1234.50)",
        },
    ]
    assert (body["rejected"], body["error_count"]) == (1, 3)
    assert not Order.objects.exists()


def test_bulk_dry_run_and_missing_customers(api):
    body = api.post(
        "/api/v1/orders/bulk/",
        {"rows": ROWS, "dry_run": True, "create_missing_customers": True},
        format="json",
    ).json()
    assert (body["status"], body["created"], body["customers_created"]) == ("validated", 2, 1)
    assert not Customer.objects.exists()
    body = api.post(
        "/api/v1/orders/bulk/", {"rows": ROWS, "create_missing_customers": True}, format="json"
    ).json()
    assert (body["status"], body["created"], body["customers_created"]) == ("imported", 2, 1)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"rows": []}, "no_rows"),
        ({"rows": "O1"}, "invalid"),
        ({"rows": [{"external_id": "O1", "customer": {"id": 1}}]}, "invalid"),
        ({"rows": ["O1"]}, "invalid"),
        ({"rows": [{"external_id": "O1", "colour": "red"}]}, "unknown_column"),
    ],
)
def test_a_malformed_bulk_request_is_a_400_in_the_same_shape(api, customer, payload, code):
    response = api.post("/api/v1/orders/bulk/", payload, format="json")
    assert response.status_code == 400
    assert code in [e["code"] for e in response.json()["errors"]]


def test_too_many_rows_are_refused(api, customer, monkeypatch):
    monkeypatch.setattr("imports.services.MAX_API_ROWS", 1)
    response = api.post("/api/v1/orders/bulk/", {"rows": ROWS}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "too_many_rows"


def test_bulk_while_another_import_of_the_kind_runs_is_409(api, customer):
    ImportJob.objects.create(kind="orders", status=ImportJob.Status.IMPORTING)
    response = api.post("/api/v1/orders/bulk/", {"rows": ROWS}, format="json")
    assert response.status_code == 409
    assert "already running" in response.json()["detail"]


def test_create_one_record(api, customer):
    response = api.post("/api/v1/orders/", ROWS[0], format="json")
    assert response.status_code == 201
    assert response.json()["revenue"] == "1000.00"
    assert response.json()["customer"] == "C1"
    again = api.post("/api/v1/orders/", ROWS[0], format="json")
    assert again.status_code == 400
    assert again.json()["errors"][0]["code"] == "exists"
    assert not ImportJob.objects.exists()  # single records are not in the import history


def test_create_with_invalid_fields_lists_every_error(api, customer):
    response = api.post(
        "/api/v1/orders/", {"external_id": "O9", "customer": "C1", "revenue": "-1"}, format="json"
    )
    assert response.status_code == 400
    assert [(e["column"], e["code"]) for e in response.json()["errors"]] == [
        ("date", "missing_column"),
    ]
    response = api.post(
        "/api/v1/orders/",
        {"external_id": "O9", "customer": "C1", "date": "", "revenue": "-1"},
        format="json",
    )
    assert [(e["row"], e["column"], e["code"]) for e in response.json()["errors"]] == [
        (1, "date", "required"),
        (1, "revenue", "out_of_range"),
    ]


def test_put_creates_or_replaces(api, customer):
    record = {"customer": "C1", "date": "2024-02-01", "revenue": "10.00"}
    created = api.put("/api/v1/orders/O7/", record, format="json")
    assert created.status_code == 201
    replaced = api.put("/api/v1/orders/O7/", {**record, "revenue": "12.00"}, format="json")
    assert replaced.status_code == 200
    assert Order.objects.get(external_id="O7").revenue == Decimal("12.00")
    wrong = api.put("/api/v1/orders/O7/", {**record, "external_id": "O8"}, format="json")
    assert wrong.status_code == 400


def test_patch_changes_only_the_fields_sent(api, customer):
    OrderFactory(external_id="O1", customer=customer, revenue=Decimal("5.00"), category="Tools")
    response = api.patch("/api/v1/orders/O1/", {"revenue": "7.25"}, format="json")
    assert response.status_code == 200
    order = Order.objects.get(external_id="O1")
    assert (order.revenue, order.category, order.customer) == (Decimal("7.25"), "Tools", customer)
    bad = api.patch("/api/v1/orders/O1/", {"date": "soon"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "invalid_date"
    assert api.patch("/api/v1/orders/NOPE/", {"revenue": "1"}, format="json").status_code == 404


def test_patch_a_customer_keeps_its_rules(api):
    CustomerFactory(external_id="C5")
    response = api.patch("/api/v1/customers/C5/", {"status": "released"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["reason"] == "is required when status is released"
    response = api.patch(
        "/api/v1/customers/C5/", {"status": "released", "released_on": "2024-05-01"}, format="json"
    )
    assert response.status_code == 200
    assert Customer.objects.get(external_id="C5").status == "released"


@pytest.mark.parametrize("persona", ["account_manager", "executive", "cx_analyst"])
def test_readers_may_not_write(request, persona, customer):
    client = APIClient()
    client.force_authenticate(request.getfixturevalue(persona))
    assert client.post("/api/v1/orders/bulk/", {"rows": ROWS}, format="json").status_code == 403
    assert client.post("/api/v1/orders/", ROWS[0], format="json").status_code == 403
    assert client.put("/api/v1/orders/O1/", ROWS[0], format="json").status_code == 403
    assert not Order.objects.exists()


def test_an_admin_may_write(admin_user, customer):
    client = APIClient()
    client.force_authenticate(admin_user)
    assert client.post("/api/v1/orders/bulk/", {"rows": ROWS}, format="json").status_code == 200


def test_there_is_no_delete(api, customer):
    OrderFactory(external_id="O1", customer=customer)
    assert api.delete("/api/v1/orders/O1/").status_code == 405


def test_keys_are_trimmed_and_numbers_accepted_as_keys(api, customer):
    response = api.post("/api/v1/orders/", {**ROWS[0], "external_id": " 42 "}, format="json")
    assert response.status_code == 201
    assert response.json()["external_id"] == "42"
    again = api.post("/api/v1/orders/", {**ROWS[0], "external_id": 42}, format="json")
    assert again.json()["errors"][0]["code"] == "exists"
