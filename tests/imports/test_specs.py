"""The specs are the one description of the files: complete, documented, in step."""

from pathlib import Path

import pytest

from imports import services
from imports.engine import check_header
from imports.models import ImportJob
from imports.reference import markdown
from imports.specs import SPECS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", list(SPECS))
def test_every_stored_field_of_the_model_has_a_column(kind):
    """The writer fills exactly the spec's columns (and timestamps): a field left out
    would be NULL in a NOT NULL column."""
    spec = SPECS[kind]
    fields = {
        f.name
        for f in spec.model._meta.concrete_fields
        if not f.primary_key and f.name not in spec.timestamps
    }
    assert fields == {c.model_field for c in spec.columns}


def test_the_issues_headers_are_accepted_as_they_are():
    customers = "external_id,name,segment,acquisition_channel,acquired_on,acquisition_cost"
    orders = "external_id,customer,date,revenue,cost"
    assert check_header(SPECS["customers"], customers.split(",")) == []
    assert check_header(SPECS["orders"], orders.split(",")) == []
    assert check_header(SPECS["customers"], ["external_id", "name"]) == []
    assert check_header(SPECS["orders"], [*orders.split(","), "category", "kind"]) == []
    assert SPECS["customers"].required == ["external_id", "name"]
    assert SPECS["orders"].required == ["external_id", "customer", "date", "revenue"]


def test_the_documentation_lists_the_columns_of_the_specs():
    doc = (ROOT / "docs" / "imports.md").read_text()
    assert markdown() in doc, "regenerate the column reference in docs/imports.md"


@pytest.mark.django_db
def test_a_validation_task_delivered_twice_validates_once():
    job = ImportJob.objects.create(kind="orders", status=ImportJob.Status.VALIDATED)
    services.import_job_validate(job_id=job.pk)  # not queued any more: nothing happens
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED


@pytest.mark.django_db
def test_marking_a_dead_import_failed_frees_its_kind(running_orders_import):
    assert services.import_job_mark_failed(job=running_orders_import, reason="worker died")
    running_orders_import.refresh_from_db()
    assert running_orders_import.status == ImportJob.Status.FAILED
    ImportJob.objects.create(kind="orders", status=ImportJob.Status.IMPORTING)
