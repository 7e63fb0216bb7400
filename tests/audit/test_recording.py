"""Each kind of event lands in the audit log with who, what and which object."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audit.models import AuditAction, AuditEvent
from cx import services as cx_services
from cx.models import CaseEvent
from economics import services as economics_services
from economics.models import CostModel, CustomerFlag, EconomicsRun
from roles import services as role_services
from tests.factories import (
    ActivityTypeFactory,
    CommitmentFactory,
    CustomerFactory,
    LifecycleExpectationFactory,
    RoleBlueprintFactory,
)
from tests.imports.helpers import csv_bytes
from tests.imports.helpers import run as run_import

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
ORDERS = """
external_id,customer,date,revenue,cost
O1,C1,2024-02-01,1000.00,600.00
O2,C1,2024-03-01,250.50,
"""


def only(action: str) -> AuditEvent:
    """The one event of ``action`` (fails when there is none or more than one)."""
    return AuditEvent.objects.get(action=action)


@pytest.fixture
def blueprint():
    bp = RoleBlueprintFactory(name="Growth account")
    LifecycleExpectationFactory(blueprint=bp)
    CommitmentFactory(blueprint=bp, title="Named account manager")
    return bp


# --- signing in and out -----------------------------------------------------------------


def test_a_sign_in_records_the_user_and_their_address(client, executive):
    client.post(
        reverse("accounts:login"),
        {"username": "exec", "password": PASSWORD},
        REMOTE_ADDR="10.2.3.4",
    )
    event = only(AuditAction.LOGIN)
    assert event.actor == executive
    assert event.actor_label == "exec"
    assert event.ip == "10.2.3.4"


def test_a_failed_sign_in_keeps_the_username_as_typed_and_no_user(client, executive):
    client.post(reverse("accounts:login"), {"username": "exec", "password": "wrong"})
    client.post(reverse("accounts:login"), {"username": "Mallory'; --", "password": "x"})
    events = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).order_by("pk")
    assert [(e.actor, e.actor_label) for e in events] == [(None, "exec"), (None, "Mallory'; --")]
    assert all(e.ip == "127.0.0.1" for e in events)
    assert "wrong" not in str(list(events.values()))  # the password is never kept


def test_a_sign_out_records_who_left(client, executive):
    client.force_login(executive)
    client.post(reverse("accounts:logout"))
    assert only(AuditAction.LOGOUT).actor == executive


# --- charters and blueprints ------------------------------------------------------------


def test_a_charter_agreement_records_who_agreed_which_charter(blueprint, account_manager):
    customer = CustomerFactory(name="Northwind", account_manager=account_manager)
    charter = role_services.charter_create(
        customer=customer, blueprint=blueprint, user=account_manager
    )
    role_services.charter_propose(charter=charter, user=account_manager)
    role_services.charter_agree(
        charter=charter, agreed_on=dt.date(2024, 3, 1), agreed_by="Jane Buyer", user=account_manager
    )

    created = only(AuditAction.CHARTER_CREATED)
    assert (created.actor, created.object_type, created.object_id) == (
        account_manager,
        "roles.charter",
        str(charter.pk),
    )
    changes = AuditEvent.objects.filter(action=AuditAction.CHARTER_CHANGED).order_by("pk")
    assert [(e.detail["event"], e.detail["from"], e.detail["to"]) for e in changes] == [
        ("proposed", "draft", "proposed"),
        ("agreed", "proposed", "agreed"),
    ]
    agreed = changes.last()
    assert agreed.actor == account_manager
    assert agreed.object_id == str(charter.pk)
    assert agreed.object_repr == "Northwind — Growth account v1"


def test_a_new_version_and_the_superseded_charter_are_recorded(blueprint, account_manager):
    customer = CustomerFactory(account_manager=account_manager)
    first = role_services.charter_create(
        customer=customer, blueprint=blueprint, user=account_manager
    )
    role_services.charter_propose(charter=first, user=account_manager)
    role_services.charter_agree(
        charter=first, agreed_on=dt.date(2024, 3, 1), agreed_by="Jane", user=account_manager
    )
    second = role_services.charter_new_version(charter=first, user=account_manager)
    role_services.charter_propose(charter=second, user=account_manager)
    role_services.charter_agree(
        charter=second, agreed_on=dt.date(2024, 4, 1), agreed_by="Jane", user=account_manager
    )
    events = {
        (e.object_id, e.detail.get("event"))
        for e in AuditEvent.objects.filter(action=AuditAction.CHARTER_CHANGED)
    }
    assert (str(second.pk), "new version") in events
    assert (str(first.pk), "superseded") in events


def test_saving_a_blueprint_records_its_commitments(blueprint, admin_user):
    commitment = blueprint.commitments.get()
    role_services.blueprint_save(
        blueprint=blueprint,
        fields={"annual_value": Decimal("25000.00")},
        expectations={},
        commitments=[{"id": commitment.pk, "yearly_cost": Decimal("7500.00")}],
        user=admin_user,
    )
    event = only(AuditAction.BLUEPRINT_SAVED)
    assert event.actor == admin_user
    assert (event.object_type, event.object_id) == ("roles.roleblueprint", str(blueprint.pk))
    assert event.detail["annual_value"] == "25000.00"
    assert event.detail["commitments"] == [{"id": commitment.pk, "yearly_cost": "7500.00"}]


def test_retiring_a_blueprint_on_its_page_records_who(client, blueprint, admin_user):
    client.force_login(admin_user)
    client.post(reverse("roles:blueprint_retire", args=[blueprint.pk]))
    client.post(reverse("roles:blueprint_retire", args=[blueprint.pk]), {"action": "reactivate"})
    assert only(AuditAction.BLUEPRINT_RETIRED).actor == admin_user
    assert only(AuditAction.BLUEPRINT_REACTIVATED).actor == admin_user


# --- the cost model and economics -------------------------------------------------------


def test_a_cost_model_change_keeps_before_and_after_of_what_changed(executive):
    CostModel.objects.create()  # the defaults: 25.00 a ticket, 36 months
    economics_services.cost_model_update(
        user=executive,
        ticket_handling_cost=Decimal("30.00"),
        forecast_horizon_months=24,
        complaint_handling_cost=Decimal("120.00"),  # unchanged: not in the detail
    )
    event = only(AuditAction.COST_MODEL_CHANGED)
    assert event.actor == executive
    assert event.object_type == "economics.costmodel"
    assert event.detail == {
        "ticket_handling_cost": {"before": "25.00", "after": "30.00"},
        "forecast_horizon_months": {"before": 36, "after": 24},
    }


def test_a_refused_cost_model_change_leaves_no_audit_event(executive):
    with pytest.raises(ValidationError):
        economics_services.cost_model_update(user=executive, forecast_horizon_months=-1)
    assert not AuditEvent.objects.filter(action=AuditAction.COST_MODEL_CHANGED).exists()


def test_an_activity_rate_is_recorded(executive):
    calls = ActivityTypeFactory(name="Service call")
    rate = economics_services.activity_rate_set(
        activity_type=calls,
        effective_from=dt.date(2024, 1, 1),
        unit_cost=Decimal("42.50"),
        user=executive,
    )
    event = only(AuditAction.ACTIVITY_RATE_SET)
    assert (event.actor, event.object_id) == (executive, str(rate.pk))
    assert event.detail == {
        "activity_type": "Service call",
        "effective_from": "2024-01-01",
        "unit_cost": "42.50",
    }


def test_a_flag_decision_records_who_decided_what(cx_analyst):
    run = EconomicsRun.objects.create(
        as_of=dt.date(2024, 12, 31), status="succeeded", active=None, is_current=True
    )
    flag = CustomerFlag.objects.create(
        customer=CustomerFactory(), kind="at_risk", raised_by=run, last_seen_by=run
    )
    economics_services.flag_decide(
        flag=flag, decision="dismissed", reason="New contract signed.", user=cx_analyst
    )
    event = only(AuditAction.FLAG_DECIDED)
    assert event.actor == cx_analyst
    assert (event.object_type, event.object_id) == ("economics.customerflag", str(flag.pk))
    assert event.detail["decision"] == "dismissed"
    assert event.detail["reason"] == "New contract signed."


def test_an_economics_run_request_is_recorded(executive):
    run = economics_services.run_request(as_of=dt.date(2024, 12, 31), user=executive, enqueue=False)
    event = only(AuditAction.ECONOMICS_RUN_REQUESTED)
    assert (event.actor, event.object_id) == (executive, str(run.pk))
    assert event.detail["as_of"] == "2024-12-31"


# --- cases ------------------------------------------------------------------------------


def test_a_case_decision_records_who_decided_with_the_rationale(cx_analyst):
    customer = CustomerFactory(name="Northwind")
    case = cx_services.case_open(customer=customer, user=cx_analyst)
    cx_services.case_start_review(case=case, user=cx_analyst)
    cx_services.case_decide(
        case=case, decision="keep", rationale="Margin comes back next year.", user=cx_analyst
    )
    events = AuditEvent.objects.filter(object_type="cx.case", object_id=str(case.pk))
    assert list(events.order_by("pk").values_list("action", flat=True)) == [
        "case_opened",
        "case_review_started",
        "case_decided",
    ]
    decided = only(AuditAction.CASE_DECIDED)
    assert decided.actor == cx_analyst
    assert decided.detail["from"] == "under_review"
    assert decided.detail["to"] == "decided"
    assert decided.detail["note"] == "Margin comes back next year."


def test_every_case_event_has_an_audit_action():
    assert {f"case_{a}" for a in CaseEvent.Action.values} <= set(AuditAction.values)


# --- imports and exports ----------------------------------------------------------------


def test_an_import_records_who_imported_which_file_with_what_outcome(integrator):
    CustomerFactory(external_id="C1")
    result = run_import("orders", ORDERS, user=integrator, name="march.csv")
    event = only(AuditAction.IMPORT_RUN)
    assert event.actor == integrator
    assert (event.object_type, event.object_id) == ("imports.importjob", str(result.job_id))
    assert event.detail["file"] == "march.csv"
    assert event.detail["rows"] == 2
    assert event.detail["dry_run"] is False


def test_an_upload_and_its_confirmation_are_recorded(
    client, integrator, eager_tasks, django_capture_on_commit_callbacks
):
    CustomerFactory(external_id="C1")
    client.force_login(integrator)
    client.post(
        reverse("imports:upload"),
        {"kind": "orders", "file": SimpleUploadedFile("orders.csv", csv_bytes(ORDERS))},
    )
    upload = only(AuditAction.IMPORT_RUN)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("imports:confirm", args=[upload.object_id]))
    confirmed = only(AuditAction.IMPORT_CONFIRMED)
    assert (upload.actor, confirmed.actor) == (integrator, integrator)
    assert confirmed.object_id == upload.object_id
    assert confirmed.detail["rows"] == 2


def test_a_customer_export_records_the_filter_and_the_number_of_rows(client, executive):
    CustomerFactory(segment="Enterprise")
    CustomerFactory(segment="Enterprise")
    CustomerFactory(segment="Mid-market")
    client.force_login(executive)
    response = client.get(reverse("customers:export", args=["csv"]), {"segment": "Enterprise"})
    assert len(b"".join(response.streaming_content).splitlines()) == 3  # header and two
    event = only(AuditAction.EXPORT)
    assert event.actor == executive
    assert event.detail == {
        "what": "customers",
        "format": "csv",
        "filter": {"segment": "Enterprise"},
        "rows": 2,
    }


def test_an_export_in_an_unknown_format_is_not_recorded(client, executive):
    client.force_login(executive)
    assert client.get(reverse("customers:export", args=["pdf"])).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()
