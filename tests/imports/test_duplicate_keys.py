"""A natural key twice in one file is a row error naming the first row, for every kind,
from a file or the API, whether the key is new or already known: never a database
error, and nothing is written."""

from __future__ import annotations

import pytest

from customers.models import (
    Customer,
    Feedback,
    Invoice,
    Order,
    Referral,
    ServiceActivity,
    SupportTicket,
)
from imports import services
from imports.models import ImportJob
from imports.specs import SPECS
from tests.factories import ActivityTypeFactory, CustomerFactory

from .helpers import run

pytestmark = pytest.mark.django_db

# kind → (model, header, a valid row without its key)
MINIMAL = {
    "customers": (Customer, "external_id,name", "Acme"),
    "orders": (Order, "external_id,customer,date,revenue", "C1,2024-01-01,1.00"),
    "invoices": (
        Invoice, "external_id,customer,issued_on,due_on,amount", "C1,2024-01-01,2024-02-01,5",
    ),
    "tickets": (SupportTicket, "external_id,customer,opened_at", "C1,2024-01-01 10:00"),
    "activities": (
        ServiceActivity, "external_id,customer,activity_type,date", "C1,visit,2024-01-01",
    ),
    "referrals": (Referral, "external_id,referrer,referred_name,date", "C1,Prospect,2024-01-01"),
    "feedback": (Feedback, "external_id,customer,date", "C1,2024-01-01"),
}  # fmt: skip


@pytest.fixture(autouse=True)
def world():
    CustomerFactory(external_id="C1")
    ActivityTypeFactory(code="visit")


def test_every_kind_is_covered():
    assert set(MINIMAL) == set(SPECS)


def _counts() -> dict[str, int]:
    return {kind: model.objects.count() for kind, (model, _h, _r) in MINIMAL.items()}


def _assert_duplicate_reported(result, *, row: int, first: int) -> None:
    assert result.status == "rejected"
    duplicates = [e for e in result.errors if e["code"] == "duplicate_key"]
    assert [(e["row"], e["column"]) for e in duplicates] == [(row, "external_id")], result.errors
    assert f"first in row {first}" in duplicates[0]["reason"]
    assert "nothing was written" in result.summary


@pytest.mark.parametrize("kind", list(MINIMAL))
def test_a_key_twice_in_a_file_is_a_row_error(kind):
    _model, header, row = MINIMAL[kind]
    before = _counts()
    result = run(kind, f"{header}\nK1,{row}\nK2,{row}\n K1 ,{row}\n")  # spaces do not hide it
    _assert_duplicate_reported(result, row=4, first=2)
    assert _counts() == before
    assert ImportJob.objects.get(pk=result.job_id).status == ImportJob.Status.REJECTED


@pytest.mark.parametrize("kind", list(MINIMAL))
def test_a_known_key_twice_in_a_file_is_a_row_error_too(kind):
    _model, header, row = MINIMAL[kind]
    assert run(kind, f"{header}\nK1,{row}\n").created == 1
    before = _counts()
    result = run(kind, f"{header}\nK1,{row}\nK1,{row}\n")
    _assert_duplicate_reported(result, row=3, first=2)
    assert _counts() == before


@pytest.mark.parametrize("kind", list(MINIMAL))
def test_a_key_twice_in_an_api_request_is_a_row_error(kind, client, integrator):
    _model, header, row = MINIMAL[kind]
    record = dict(zip(header.split(","), ["K1", *row.split(",")], strict=True))
    client.force_login(integrator)
    before = _counts()
    response = client.post(
        f"/api/v1/{kind}/bulk/", {"rows": [record, dict(record)]}, content_type="application/json"
    )
    assert response.status_code == 400
    body = response.json()
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (2, "external_id", "duplicate_key")
    ]
    assert _counts() == before


def test_the_service_reports_it_without_raising():
    """Through the service directly, as the command line and the upload page call it."""
    _model, header, row = MINIMAL["orders"]
    records = [dict(zip(header.split(","), ["K1", *row.split(",")], strict=True))] * 2
    result = services.import_run(kind="orders", source=records)
    result.close()
    _assert_duplicate_reported(result, row=2, first=1)
