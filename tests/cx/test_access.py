"""Who may see and do what: the CX team and admins work cases; executives read
everything and approve or reject a let-go; an account manager reads the cases of their
own customers (404 for another's); integrators get 403; anonymous users sign in."""

import pytest
from django.urls import reverse

from cx import services
from cx.models import Case
from tests.cx.conftest import flagged

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(customer, cx_analyst):
    return services.case_open(customer=customer, user=cx_analyst)


@pytest.fixture
def let_go(case, cx_analyst):
    services.case_start_review(case=case, user=cx_analyst)
    return services.case_decide(
        case=case, decision="let_go", rationale="Loses money on every order.", user=cx_analyst
    )


def url(name: str, *args) -> str:
    return reverse(f"cx:{name}", args=args)


# --- reading ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["cx_analyst", "admin_user", "executive"])
def test_the_worklist_is_read_by_cx_admins_and_executives(request, client, customer, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url("worklist"))
    assert response.status_code == 200
    assert "Northwind Logistics" in response.content.decode()


@pytest.mark.parametrize("who", ["account_manager", "integrator"])
def test_the_worklist_is_closed_to_others(request, client, customer, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(url("worklist")).status_code == 403


def test_anonymous_is_sent_to_login(client, case):
    for target in [url("worklist"), url("case_detail", case.pk)]:
        response = client.get(target)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))
    response = client.post(url("case_start_review", case.pk))
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN


@pytest.mark.parametrize("who", ["cx_analyst", "admin_user", "executive", "account_manager"])
def test_the_case_page_is_read_by(request, client, case, who):
    client.force_login(request.getfixturevalue(who))
    response = client.get(url("case_detail", case.pk))
    assert response.status_code == 200
    assert f"Case #{case.pk}: Northwind Logistics" in response.content.decode()


def test_another_account_manager_gets_404(client, case, other_account_manager):
    client.force_login(other_account_manager)
    assert client.get(url("case_detail", case.pk)).status_code == 404


def test_an_integrator_gets_403(client, case, integrator):
    client.force_login(integrator)
    assert client.get(url("case_detail", case.pk)).status_code == 403


def test_readers_see_no_forms_to_work_the_case(client, case, executive, account_manager):
    for user in (executive, account_manager):
        client.force_login(user)
        page = client.get(url("case_detail", case.pk)).content.decode()
        assert url("case_start_review", case.pk) not in page
        assert url("case_assign", case.pk) not in page
    client.force_login(case.opened_by)
    assert (
        url("case_start_review", case.pk)
        in client.get(url("case_detail", case.pk)).content.decode()
    )


# --- working ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["executive", "account_manager"])
def test_readers_may_not_work_a_case(request, client, case, who):
    client.force_login(request.getfixturevalue(who))
    assert client.post(url("case_start_review", case.pk)).status_code == 403
    assert client.post(url("case_note", case.pk), {"note": "hi"}).status_code == 403
    assert Case.objects.get(pk=case.pk).status == Case.Status.OPEN


def test_another_account_manager_gets_404_on_writes_too(client, case, other_account_manager):
    client.force_login(other_account_manager)
    assert client.post(url("case_start_review", case.pk)).status_code == 404


@pytest.mark.parametrize("who", ["executive", "account_manager", "integrator"])
def test_only_workers_use_bulk_actions(request, client, customer, who):
    client.force_login(request.getfixturevalue(who))
    response = client.post(
        url("worklist_bulk"), {"action": "open_cases", "customers": [customer.pk]}
    )
    assert response.status_code == 403
    assert not Case.objects.exists()


def test_admins_work_cases(client, case, admin_user):
    client.force_login(admin_user)
    response = client.post(url("case_start_review", case.pk))
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).status == Case.Status.UNDER_REVIEW


# --- approving ----------------------------------------------------------------------------


def test_an_executive_sees_and_uses_the_approval(client, let_go, executive):
    client.force_login(executive)
    page = client.get(url("case_detail", let_go.pk)).content.decode()
    assert 'data-testid="approval-panel"' in page
    assert url("case_approve", let_go.pk) in page
    response = client.post(url("case_approve", let_go.pk), {"note": "Fine by me."})
    assert response.status_code == 302
    let_go.refresh_from_db()
    assert let_go.approval == Case.Approval.APPROVED
    assert let_go.customer.status == "released"


@pytest.mark.parametrize("who", ["cx_analyst", "admin_user"])
def test_case_workers_cannot_approve(request, client, let_go, who):
    client.force_login(request.getfixturevalue(who))
    page = client.get(url("case_detail", let_go.pk)).content.decode()
    assert url("case_approve", let_go.pk) not in page
    assert client.post(url("case_approve", let_go.pk)).status_code == 403
    assert client.post(url("case_reject", let_go.pk), {"note": "no"}).status_code == 403
    let_go.refresh_from_db()
    assert let_go.approval == Case.Approval.PENDING


def test_the_proposing_executive_cannot_approve_through_the_page(client, run, cx_executive):
    c = flagged(run, "Gamma", "unprofitable")
    case = services.case_open(customer=c, user=cx_executive)
    services.case_start_review(case=case, user=cx_executive)
    services.case_decide(case=case, decision="let_go", rationale="Losses.", user=cx_executive)
    client.force_login(cx_executive)
    page = client.get(url("case_detail", case.pk)).content.decode()
    assert "You proposed it; another executive must approve it." in page
    assert client.post(url("case_approve", case.pk)).status_code == 403


def test_an_account_manager_cannot_approve(client, let_go, account_manager):
    client.force_login(account_manager)
    assert client.post(url("case_approve", let_go.pk)).status_code == 403


def test_rejecting_needs_a_reason(client, let_go, executive):
    client.force_login(executive)
    response = client.post(url("case_reject", let_go.pk), {"note": ""})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    let_go.refresh_from_db()
    assert let_go.status == Case.Status.DECIDED
    client.post(url("case_reject", let_go.pk), {"note": "Our reference customer."})
    let_go.refresh_from_db()
    assert (let_go.status, let_go.rejection_reason) == ("under_review", "Our reference customer.")
    page = client.get(url("case_detail", let_go.pk)).content.decode()
    assert "Letting go was turned down." in page
