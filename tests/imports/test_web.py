"""The upload page's flow: upload → report and preview → confirm → progress → result,
and who may use it."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import load_workbook

from customers.models import Order
from imports import services
from imports.models import ImportJob
from tests.factories import CustomerFactory

from .helpers import csv_bytes

pytestmark = pytest.mark.django_db

GOOD = """
external_id,customer,date,revenue,cost
O1,C1,2024-02-01,1000.00,600.00
O2,C1,2024-03-01,250.50,
"""
BAD = """
external_id,customer,date,revenue,cost
O1,C1,2024-02-01,1000.00,600.00
O2,C9,2024-03-01,=HYPERLINK("x"),
"""


def upload(client, text: str, *, kind: str = "orders", name: str = "orders.csv", **extra):
    data = {"kind": kind, "file": SimpleUploadedFile(name, csv_bytes(text)), **extra}
    return client.post(reverse("imports:upload"), data)


@pytest.fixture
def customer():
    return CustomerFactory(external_id="C1")


@pytest.fixture
def signed_in(client, integrator):
    client.force_login(integrator)
    return client


def test_upload_shows_a_valid_files_report_and_preview_before_writing(signed_in, customer):
    response = upload(signed_in, GOOD)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("imports:detail", args=[job.pk])
    assert job.status == ImportJob.Status.VALIDATED
    assert (job.rows, job.created_count) == (2, 2)
    assert not Order.objects.exists()
    page = signed_in.get(response.url)
    html = page.content.decode()
    assert "The file is valid." in html
    assert "Confirm and import" in html
    assert [r["row"] for r in page.context["preview_rows"]] == [2, 3]
    assert page.context["preview_columns"] == ["external_id", "customer", "date", "revenue", "cost"]


def test_confirm_imports_the_file_and_shows_the_result(
    signed_in, customer, eager_tasks, django_capture_on_commit_callbacks
):
    upload(signed_in, GOOD)
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(reverse("imports:confirm", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
    assert (job.created_count, job.updated_count, job.unchanged_count) == (2, 0, 0)
    assert Order.objects.count() == 2
    html = signed_in.get(response.url).content.decode()
    assert "Imported." in html
    assert "2 rows: 2 created, 0 updated, 0 unchanged." in html


def test_a_rejected_file_shows_every_error_and_offers_the_report(signed_in, customer):
    upload(signed_in, BAD)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REJECTED
    page = signed_in.get(reverse("imports:detail", args=[job.pk]))
    html = page.content.decode()
    assert "Rejected." in html
    assert "Confirm and import" not in html
    assert "no customer has this external_id" in html
    assert [r["bad"] for r in page.context["preview_rows"]] == [False, True]
    report = signed_in.get(reverse("imports:errors", args=[job.pk, "csv"]))
    lines = b"".join(report.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "row,column,value,code,reason"
    assert lines[1] == "3,customer,C9,unknown_reference,no customer has this external_id"
    # The value a spreadsheet would run as a formula comes out neutralised.
    assert lines[2].startswith('3,revenue,"\'=HYPERLINK(""x"")",invalid_amount,')
    workbook = signed_in.get(reverse("imports:errors", args=[job.pk, "xlsx"]))
    sheet = load_workbook(io.BytesIO(b"".join(workbook.streaming_content))).active
    values = [c.value for c in sheet[3]]
    assert values[:3] == ["3", "revenue", '\'=HYPERLINK("x")']
    assert sheet["C3"].data_type == "s"


def test_a_large_file_is_validated_by_a_task(
    signed_in, customer, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.IMPORTS_INLINE_VALIDATION_BYTES = 0
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        upload(signed_in, GOOD)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.QUEUED
    page = signed_in.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert f'hx-get="/imports/{job.pk}/progress/"' in page
    assert "Waiting for a worker" in page
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED


def test_the_progress_partial_polls_while_running_and_refreshes_when_done(signed_in, customer):
    job = ImportJob.objects.create(
        kind="orders",
        status=ImportJob.Status.IMPORTING,
        progress_stage="validating",
        progress_percent=42,
    )
    running = signed_in.get(reverse("imports:progress", args=[job.pk]))
    assert "42 %" in running.content.decode()
    assert "every 1s" in running.content.decode()
    assert "HX-Refresh" not in running
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.SUCCEEDED)
    done = signed_in.get(reverse("imports:progress", args=[job.pk]))
    assert done["HX-Refresh"] == "true"


def test_a_second_import_of_the_same_kind_is_refused_with_a_message(
    signed_in, customer, running_orders_import, django_capture_on_commit_callbacks
):
    upload(signed_in, GOOD)
    job = ImportJob.objects.exclude(pk=running_orders_import.pk).get()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = signed_in.post(reverse("imports:confirm", args=[job.pk]), follow=True)
    assert callbacks == []
    assert "An import of orders is already running" in response.content.decode()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.VALIDATED
    assert not Order.objects.exists()


def test_confirming_twice_imports_once(
    signed_in, customer, eager_tasks, django_capture_on_commit_callbacks
):
    upload(signed_in, GOOD)
    job = ImportJob.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("imports:confirm", args=[job.pk]))
    with django_capture_on_commit_callbacks(execute=True) as second:
        signed_in.post(reverse("imports:confirm", args=[job.pk]))
    assert second == []
    services.import_job_execute(job_id=job.pk)  # a task delivered twice
    job.refresh_from_db()
    assert (job.status, job.created_count) == (ImportJob.Status.SUCCEEDED, 2)


def test_the_import_checks_the_file_again_when_it_is_written(
    signed_in, customer, eager_tasks, django_capture_on_commit_callbacks
):
    upload(signed_in, GOOD)
    job = ImportJob.objects.get()
    customer.delete()
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("imports:confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == ImportJob.Status.REJECTED
    assert job.errors[0]["code"] == "unknown_reference"
    assert not Order.objects.exists()


def test_upload_form_refuses_other_files_and_misplaced_options(signed_in):
    response = upload(signed_in, GOOD, name="orders.pdf")
    assert "Upload a .csv or .xlsx file." in response.content.decode()
    response = upload(signed_in, GOOD, kind="customers", create_missing_customers="on")
    assert "Only files that name customers can create them." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_templates_carry_the_header_of_each_kind(signed_in):
    csv_response = signed_in.get(reverse("imports:template", args=["orders", "csv"]))
    lines = b"".join(csv_response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "external_id,customer,date,revenue,cost,category,kind"
    assert lines[1] == "O000001,C00042,2024-02-01,1000.00,600.00,Hardware,repeat"
    xlsx = signed_in.get(reverse("imports:template", args=["customers", "xlsx"]))
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    assert [c.value for c in sheet[1]][:6] == [
        "external_id",
        "name",
        "segment",
        "industry",
        "acquisition_channel",
        "sales_rep",
    ]
    assert signed_in.get(reverse("imports:template", args=["shipments", "csv"])).status_code == 404


def test_a_downloaded_template_imports_as_it_is(signed_in, eager_tasks):
    for kind in ["customers", "orders"]:
        response = signed_in.get(reverse("imports:template", args=[kind, "csv"]))
        content = b"".join(response.streaming_content)
        data = {"kind": kind, "file": SimpleUploadedFile(f"{kind}.csv", content)}
        if kind == "orders":
            data["create_missing_customers"] = "on"
        signed_in.post(reverse("imports:upload"), data)
    statuses = list(ImportJob.objects.order_by("pk").values_list("kind", "status"))
    assert statuses == [("customers", "validated"), ("orders", "validated")]


def test_history_lists_every_import_and_exports(signed_in, customer, admin_user):
    upload(signed_in, GOOD)
    upload(signed_in, BAD)
    page = signed_in.get(reverse("imports:history"))
    assert page.context["page"].paginator.count == 2
    filtered = signed_in.get(reverse("imports:history"), {"status": "rejected"})
    assert [j.status for j in filtered.context["page"]] == ["rejected"]
    export = signed_in.get(reverse("imports:history-export", args=["csv"]), {"status": "rejected"})
    lines = b"".join(export.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0].startswith("id,kind,status,origin,file_name,created_by")
    assert len(lines) == 2 and ",rejected,web,orders.csv,integrator," in lines[1]


def test_history_runs_a_fixed_number_of_queries(signed_in, customer, django_assert_max_num_queries):
    for _ in range(5):
        upload(signed_in, GOOD)
    with django_assert_max_num_queries(8):
        signed_in.get(reverse("imports:history"))


ALL_PAGES = [
    ("imports:upload", []),
    ("imports:history", []),
    ("imports:template", ["orders", "csv"]),
]


@pytest.mark.parametrize("persona", ["integrator", "admin_user"])
def test_admins_and_integrators_may_import(client, request, persona, customer):
    client.force_login(request.getfixturevalue(persona))
    for name, args in ALL_PAGES:
        assert client.get(reverse(name, args=args)).status_code == 200
    assert upload(client, GOOD).status_code == 302
    assert ImportJob.objects.get().created_by == request.getfixturevalue(persona)


@pytest.mark.parametrize("persona", ["account_manager", "executive", "cx_analyst"])
def test_other_personas_get_403(client, request, persona, customer):
    job = ImportJob.objects.create(kind="orders", status=ImportJob.Status.VALIDATED)
    client.force_login(request.getfixturevalue(persona))
    urls = [reverse(name, args=args) for name, args in ALL_PAGES] + [
        reverse("imports:detail", args=[job.pk]),
        reverse("imports:progress", args=[job.pk]),
    ]
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert upload(client, GOOD).status_code == 403
    assert client.post(reverse("imports:confirm", args=[job.pk])).status_code == 403


def test_anonymous_is_sent_to_login(client):
    job = ImportJob.objects.create(kind="orders")
    for url in [
        reverse("imports:upload"),
        reverse("imports:history"),
        reverse("imports:detail", args=[job.pk]),
        reverse("imports:errors", args=[job.pk, "csv"]),
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


def test_a_missing_import_is_404(signed_in):
    assert signed_in.get(reverse("imports:detail", args=[999])).status_code == 404


def test_the_navigation_shows_imports_to_admins_and_integrators(
    client, integrator, admin_user, executive
):
    for user, shown in [(integrator, True), (admin_user, True), (executive, False)]:
        client.force_login(user)
        html = client.get(reverse("home")).content.decode()
        assert ('data-testid="nav-imports"' in html) is shown
        assert (reverse("api:docs") in html) is shown


def test_an_xlsx_upload_goes_through_the_same_flow(
    signed_in, customer, eager_tasks, django_capture_on_commit_callbacks
):
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(["external_id", "customer", "date", "revenue"])
    book.active.append(["O1", "C1", "2024-02-01", 12.5])
    buffer = io.BytesIO()
    book.save(buffer)
    signed_in.post(
        reverse("imports:upload"),
        {"kind": "orders", "file": SimpleUploadedFile("orders.xlsx", buffer.getvalue())},
    )
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.VALIDATED, job.errors
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(reverse("imports:confirm", args=[job.pk]))
    assert str(Order.objects.get(external_id="O1").revenue) == "12.50"
