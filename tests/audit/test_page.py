"""The audit log page: admins only, newest first, filtered, exported, and read-only."""

import csv
import datetime as dt
import io
import json

import pytest
import time_machine
from django.db.models import ProtectedError
from django.urls import URLPattern, get_resolver, reverse
from openpyxl import load_workbook

from audit import urls as audit_urls
from audit.models import AuditAction, AuditEvent
from audit.services import audit_record
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

LOG = reverse("audit:log")


@pytest.fixture
def signed_in_admin(client, admin_user):
    client.force_login(admin_user)
    return client


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2025, 3, day, hour, tzinfo=dt.UTC)


def event_on(day: int, **kwargs) -> AuditEvent:
    with time_machine.travel(at(day), tick=False):
        return audit_record(**kwargs)


def shown(response) -> list[AuditEvent]:
    return list(response.context["page"])


# --- who may look -----------------------------------------------------------------------


def test_an_admin_sees_the_log_and_the_nav_item(signed_in_admin):
    response = signed_in_admin.get(LOG)
    assert response.status_code == 200
    assert 'data-testid="nav-audit"' in response.content.decode()


@pytest.mark.parametrize(
    "persona_fixture", ["executive", "account_manager", "cx_analyst", "integrator"]
)
def test_other_personas_get_403_and_no_nav_item(client, request, persona_fixture):
    client.force_login(request.getfixturevalue(persona_fixture))
    assert client.get(LOG).status_code == 403
    assert client.get(reverse("audit:export", args=["csv"])).status_code == 403
    assert 'data-testid="nav-audit"' not in client.get(reverse("home")).content.decode()


def test_anonymous_is_sent_to_login(client):
    for url in [LOG, reverse("audit:export", args=["csv"])]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


def test_a_deactivated_admin_is_sent_to_login(client, admin_user):
    client.force_login(admin_user)
    admin_user.is_active = False
    admin_user.save(update_fields=["is_active"])
    assert client.get(LOG).status_code == 302


# --- what the page shows ----------------------------------------------------------------


def test_newest_first_with_who_what_and_which_object(signed_in_admin, executive):
    customer = CustomerFactory(name="Northwind")
    event_on(1, action=AuditAction.EXPORT, actor=executive, detail={"what": "customers"})
    event_on(3, action=AuditAction.LOGIN_FAILED, actor_label="mallory")
    event_on(2, action=AuditAction.CHARTER_CHANGED, actor=executive, obj=customer)
    page = signed_in_admin.get(LOG)
    events = [e for e in shown(page) if e.at < at(28)]  # leave out the admin's own sign-in
    assert [e.at.day for e in events] == [3, 2, 1]
    html = page.content.decode()
    assert "mallory" in html
    assert "Northwind" in html
    assert "Charter changed" in html


def test_a_change_reads_before_and_after(signed_in_admin, executive):
    audit_record(
        action=AuditAction.COST_MODEL_CHANGED,
        actor=executive,
        detail={"ticket_handling_cost": {"before": "25.00", "after": "30.00"}},
    )
    assert "25.00 → 30.00" in signed_in_admin.get(LOG).content.decode()


def test_text_in_the_log_is_escaped(signed_in_admin):
    audit_record(action=AuditAction.LOGIN_FAILED, actor_label="<script>alert(1)</script>")
    html = signed_in_admin.get(LOG).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_fifty_events_a_page(signed_in_admin):
    for _ in range(60):
        audit_record(action=AuditAction.LOGIN_FAILED, actor_label="guess")
    first = signed_in_admin.get(LOG, {"action": "login_failed"})
    second = signed_in_admin.get(LOG, {"action": "login_failed", "page": 2})
    assert (len(shown(first)), len(shown(second))) == (50, 10)
    assert first.context["page"].paginator.count == 60


def test_the_page_runs_a_fixed_number_of_queries(
    signed_in_admin, executive, django_assert_max_num_queries
):
    for _ in range(30):
        audit_record(action=AuditAction.EXPORT, actor=executive)
    with django_assert_max_num_queries(8):
        signed_in_admin.get(LOG)


# --- filters ----------------------------------------------------------------------------


@pytest.fixture
def varied(executive, cx_analyst):
    customer = CustomerFactory(name="Northwind")
    return {
        "export": event_on(1, action=AuditAction.EXPORT, actor=executive),
        "failed": event_on(5, action=AuditAction.LOGIN_FAILED, actor_label="exec-typo"),
        "case": event_on(10, action=AuditAction.CASE_DECIDED, actor=cx_analyst, obj=customer),
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "export"}, ["export"]),
        ({"actor": "exec"}, ["failed", "export"]),  # part of the username, as typed too
        ({"actor": "CX"}, ["case"]),
        ({"object_type": "customers.customer"}, ["case"]),
        ({"since": "2025-03-05"}, ["case", "failed"]),
        ({"until": "2025-03-05"}, ["failed", "export"]),
        ({"since": "2025-03-02", "until": "2025-03-09"}, ["failed"]),
        ({"action": "export", "actor": "cx"}, []),
    ],
)
def test_filters_narrow_the_log(signed_in_admin, varied, query, expected):
    response = signed_in_admin.get(LOG, {**query, "until": query.get("until", "2025-03-31")})
    assert shown(response) == [varied[name] for name in expected]


def test_one_objects_history_from_its_link(signed_in_admin, varied):
    case = varied["case"]
    response = signed_in_admin.get(
        LOG, {"object_type": case.object_type, "object_id": case.object_id}
    )
    assert shown(response) == [case]


def test_the_end_of_a_backwards_date_range_is_reported_and_ignored(signed_in_admin, varied):
    response = signed_in_admin.get(LOG, {"since": "2025-03-09", "until": "2025-03-01"})
    assert "The end of the range comes before its start." in response.content.decode()
    events = shown(response)
    assert varied["case"] in events  # since the 9th, with no end
    assert varied["failed"] not in events


def test_the_object_filter_offers_the_kinds_of_object_in_the_log(signed_in_admin, varied):
    choices = dict(signed_in_admin.get(LOG).context["form"].fields["object_type"].choices)
    assert choices["customers.customer"] == "Customer"


# --- export -----------------------------------------------------------------------------


def test_the_csv_export_carries_the_filtered_log_and_is_itself_recorded(
    signed_in_admin, admin_user, varied
):
    response = signed_in_admin.get(
        reverse("audit:export", args=["csv"]), {"action": "case_decided"}
    )
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "at", "actor", "action", "object_type", "object_id", "object", "detail", "ip",
    ]  # fmt: skip
    assert len(rows) == 2
    assert rows[1][1:5] == ["cx", "case_decided", "customers.customer", varied["case"].object_id]
    export = AuditEvent.objects.filter(action=AuditAction.EXPORT, actor=admin_user).get()
    assert export.detail == {
        "what": "audit log",
        "format": "csv",
        "filter": {"action": "case_decided"},
        "rows": 1,
    }


def test_the_xlsx_export_opens_with_the_detail_as_json(signed_in_admin, varied):
    audit_record(
        action=AuditAction.COST_MODEL_CHANGED, detail={"runs_kept": {"before": 30, "after": 20}}
    )
    response = signed_in_admin.get(
        reverse("audit:export", args=["xlsx"]), {"action": "cost_model_changed"}
    )
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 2
    assert json.loads(rows[1][6]) == {"runs_kept": {"before": 30, "after": 20}}


def test_an_unknown_export_format_is_404(signed_in_admin):
    assert signed_in_admin.get(reverse("audit:export", args=["pdf"])).status_code == 404


# --- nobody changes the log through the app ---------------------------------------------


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_log_takes_no_writes(signed_in_admin, method):
    audit_record(action=AuditAction.LOGIN_FAILED, actor_label="guess")
    before = list(AuditEvent.objects.values())
    for url in [LOG, reverse("audit:export", args=["csv"])]:
        assert getattr(signed_in_admin, method)(url).status_code == 405
    assert list(AuditEvent.objects.values()) == before


def test_the_audit_app_has_no_url_but_the_log_and_its_export():
    names = {p.name for p in audit_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == {"log", "export"}
    audit_routes = [
        str(p.pattern) for p in get_resolver().url_patterns if "audit" in str(p.pattern)
    ]
    assert audit_routes == ["audit/"]


def test_the_django_admin_shows_the_log_read_only(signed_in_admin):
    event = audit_record(action=AuditAction.LOGIN_FAILED, actor_label="guess")
    assert signed_in_admin.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    change = reverse("admin:audit_auditevent_change", args=[event.pk])
    page = signed_in_admin.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert signed_in_admin.post(change, {"actor_label": "someone"}).status_code == 403
    assert signed_in_admin.get(reverse("admin:audit_auditevent_add")).status_code == 403
    delete = reverse("admin:audit_auditevent_delete", args=[event.pk])
    assert signed_in_admin.post(delete, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.actor_label == "guess"


def test_a_person_who_acted_cannot_be_deleted_only_deactivated(executive):
    audit_record(action=AuditAction.EXPORT, actor=executive)
    with pytest.raises(ProtectedError):
        executive.delete()
    bystander = UserFactory(username="bystander")
    bystander.delete()  # someone who never acted can go


def test_the_detail_reads_as_sentences_not_codes():
    event = AuditEvent(
        action=AuditAction.CASE_DECIDED,
        detail={"from": "under_review", "to": "decided", "what": "Reprice", "note": "", "x": None},
    )
    assert event.detail_lines == [("status", "under review → decided"), ("what", "Reprice")]
    opened = AuditEvent(action=AuditAction.CASE_OPENED, detail={"from": "", "to": "open"})
    assert opened.detail_lines == [("status", "open")]
    run = AuditEvent(action=AuditAction.IMPORT_RUN, detail={"dry_run": True, "rows": 0})
    assert run.detail_lines == [("dry run", "yes"), ("rows", "0")]
