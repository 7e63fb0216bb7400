"""The case page: a form for each step, the decision with its rationale, the exit
checklist, decisions on the flags, and the history as a timeline."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from cx import services
from cx.models import Case
from tests.factories import AgreedCharterFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    return reverse(f"cx:{name}", args=args)


@pytest.fixture
def case(customer, cx_analyst):
    return services.case_open(customer=customer, user=cx_analyst)


@pytest.fixture
def signed_in(client, cx_analyst):
    client.force_login(cx_analyst)
    return client


def test_a_case_is_worked_through_its_page(signed_in, case, executive, client):
    assert signed_in.post(url("case_start_review", case.pk), {"note": "On it."}).status_code == 302
    page = signed_in.get(url("case_detail", case.pk)).content.decode()
    assert 'data-testid="decide-panel"' in page
    assert "Renegotiate the role" in page

    response = signed_in.post(
        url("case_decide", case.pk), {"decision": "fix_our_side", "rationale": "We broke SLAs."}
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert (case.status, case.decision, case.rationale) == ("decided", "fix_our_side",
                                                            "We broke SLAs.")  # fmt: skip

    assert (
        signed_in.post(url("case_close", case.pk), {"note": "Service plan agreed."}).status_code
        == 302
    )
    case.refresh_from_db()
    assert case.status == Case.Status.DONE
    page = signed_in.get(url("case_detail", case.pk)).content.decode()
    for action in ("opened", "review_started", "decided", "closed"):
        assert f'data-testid="event-{action}"' in page
    assert "Service plan agreed." in page
    assert "We broke SLAs." in page


def test_a_decision_without_rationale_is_shown_again_with_the_error(signed_in, case, cx_analyst):
    services.case_start_review(case=case, user=cx_analyst)
    response = signed_in.post(url("case_decide", case.pk), {"decision": "keep", "rationale": " "})
    assert response.status_code == 200
    assert "Say why" in response.content.decode() or "This field is required" in (
        response.content.decode()
    )
    case.refresh_from_db()
    assert case.status == Case.Status.UNDER_REVIEW


def test_a_step_out_of_order_is_refused_with_a_message(signed_in, case):
    response = signed_in.post(url("case_close", case.pk), follow=True)
    assert "it must be decided" in response.content.decode()
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN


def test_the_exit_checklist_is_ticked_on_the_page(signed_in, case, cx_analyst, executive):
    services.case_start_review(case=case, user=cx_analyst)
    services.case_decide(case=case, decision="let_go", rationale="Losses.", user=cx_analyst)
    services.case_approve_let_go(case=case, user=executive)
    page = signed_in.get(url("case_detail", case.pk)).content.decode()
    assert page.count('data-testid="checklist-item"') == 5
    assert 'data-testid="customer-status"><span class="badge text-bg-secondary">Released' in page
    for item in case.checklist.all():
        signed_in.post(url("checklist_tick", case.pk, item.pk), {"done": "1"})
    assert not case.checklist.filter(done_at__isnull=True).exists()
    page = signed_in.get(url("case_detail", case.pk)).content.decode()
    assert "done by" in page
    signed_in.post(url("case_close", case.pk))
    case.refresh_from_db()
    assert case.status == Case.Status.DONE


def test_flags_are_decided_on_the_case_page(signed_in, case):
    flag = case.customer.flags.get(kind="at_risk")
    until = timezone.localdate() + dt.timedelta(days=20)
    response = signed_in.post(
        url("case_flag_decide", case.pk, flag.pk),
        {"decision": "snoozed", "snoozed_until": until.isoformat()},
    )
    assert response.status_code == 302
    flag.refresh_from_db()
    assert (flag.decision, flag.snoozed_until) == ("snoozed", until)
    # a dismissal without a reason is refused
    other = case.customer.flags.get(kind="unprofitable")
    response = signed_in.post(
        url("case_flag_decide", case.pk, other.pk), {"decision": "dismissed"}, follow=True
    )
    assert "Say why this flag is dismissed." in response.content.decode()
    other.refresh_from_db()
    assert other.decision == ""
    assert case.events.filter(action="flag_decided").count() == 1


def test_a_flag_of_another_customer_gives_404(signed_in, case, run):
    from tests.cx.conftest import flagged

    other = flagged(run, "Other", "at_risk").flags.get()
    response = signed_in.post(url("case_flag_decide", case.pk, other.pk), {"decision": "accepted"})
    assert response.status_code == 404


def test_assigning_and_notes(signed_in, case, admin_user):
    signed_in.post(url("case_assign", case.pk), {"assignee": admin_user.pk})
    signed_in.post(url("case_note", case.pk), {"note": "Called the buyer."})
    case.refresh_from_db()
    assert case.assignee == admin_user
    page = signed_in.get(url("case_detail", case.pk)).content.decode()
    assert "Called the buyer." in page
    assert case.events.get(action="assigned").what == admin_user.get_full_name()
    assert 'data-testid="event-assigned"' in page


def test_renegotiating_the_role_links_to_the_charter(client, case, cx_analyst, admin_user):
    charter = AgreedCharterFactory(customer=case.customer)
    services.case_start_review(case=case, user=cx_analyst)
    services.case_decide(
        case=case, decision="renegotiate_role", rationale="Buys half of what the role says.",
        user=cx_analyst,
    )  # fmt: skip
    client.force_login(cx_analyst)
    page = client.get(url("case_detail", case.pk)).content.decode()
    assert reverse("roles:charter_detail", args=[charter.pk]) in page
    client.force_login(admin_user)  # admins may start the new version right here
    page = client.get(url("case_detail", case.pk)).content.decode()
    assert reverse("roles:charter_transition", args=[charter.pk]) in page
    assert 'value="new_version"' in page


def test_the_page_lists_the_customers_other_cases(signed_in, case, cx_analyst):
    services.case_start_review(case=case, user=cx_analyst)
    services.case_decide(case=case, decision="keep", rationale="Fine.", user=cx_analyst)
    services.case_close(case=case, user=cx_analyst)
    newer = services.case_open(customer=case.customer, user=cx_analyst)
    page = signed_in.get(url("case_detail", newer.pk)).content.decode()
    assert url("case_detail", case.pk) in page


def test_opening_a_case_from_a_worklist_row(signed_in, customer, cx_analyst):
    response = signed_in.post(url("case_open", customer.pk))
    case = Case.objects.get(customer=customer)
    assert response.url == url("case_detail", case.pk)
    assert case.assignee == cx_analyst
    response = signed_in.post(url("case_open", customer.pk), {"flag": "at_risk"}, follow=True)
    assert "already has a case in progress" in response.content.decode()
    assert response.redirect_chain[-1][0] == url("worklist") + "?flag=at_risk"
