"""Every page as every persona: the owner, another user of the same role (404),
a persona that may not use the page (403), and anonymous (redirect to login)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import (
    AgreedCharterFactory,
    CustomerFactory,
    OrderFactory,
    SupportTicketFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_customer(account_manager):
    customer = CustomerFactory(name="Northwind Logistics", account_manager=account_manager)
    OrderFactory(customer=customer, date=timezone.localdate(), revenue=Decimal("1200.00"))
    SupportTicketFactory(customer=customer, is_complaint=True, subject="Late delivery")
    return customer


def test_anonymous_is_sent_to_login(client):
    for url in [reverse("home"), reverse("customers:list")]:
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


def test_login_page_signs_a_user_in(client, executive):
    response = client.post(
        reverse("accounts:login"), {"username": "exec", "password": "correct-horse-battery"}
    )
    assert response.status_code == 302
    assert response.url == reverse("home")


def test_wrong_password_is_refused_with_a_message(client, executive):
    response = client.post(reverse("accounts:login"), {"username": "exec", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_account_manager_home_lists_their_customers(client, account_manager, alices_customer):
    AgreedCharterFactory(customer=alices_customer)
    CustomerFactory(name="Someone Else's")
    client.force_login(account_manager)
    page = client.get(reverse("home")).content.decode()
    assert "Northwind Logistics" in page
    assert "Someone Else&#x27;s" not in page


def test_executive_home_carries_a_chart_with_data(client, executive, alices_customer):
    client.force_login(executive)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    figure = response.context["sales_figure"]
    assert figure["data"][0]["y"]
    assert 'id="monthly-sales"' in response.content.decode()


def test_cx_home_shows_recent_complaints(client, cx_analyst, alices_customer):
    client.force_login(cx_analyst)
    assert "Late delivery" in client.get(reverse("home")).content.decode()


def test_admin_home_shows_the_data_counts(client, admin_user, alices_customer):
    client.force_login(admin_user)
    response = client.get(reverse("home"))
    assert response.context["counts"]["Customers"] == 1


def test_integrator_home_shows_the_feeds(client, integrator):
    client.force_login(integrator)
    assert client.get(reverse("home")).status_code == 200


def test_a_user_without_persona_is_told_so(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="x" * 12)
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 403
    assert "no role in Tango" in response.content.decode()


def test_customer_page_for_its_account_manager(client, account_manager, alices_customer):
    client.force_login(account_manager)
    response = client.get(reverse("customers:detail", args=[alices_customer.pk]))
    assert response.status_code == 200
    assert response.context["totals"]["revenue"] == Decimal("1200.00")


def test_another_account_manager_gets_404(client, other_account_manager, alices_customer):
    client.force_login(other_account_manager)
    response = client.get(reverse("customers:detail", args=[alices_customer.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("persona", ["executive", "cx_analyst", "admin_user"])
def test_readers_see_any_customer(client, request, persona, alices_customer):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(reverse("customers:detail", args=[alices_customer.pk]))
    assert response.status_code == 200


def test_integrator_may_not_browse_customers(client, integrator, alices_customer):
    client.force_login(integrator)
    assert client.get(reverse("customers:list")).status_code == 403
    assert client.get(reverse("customers:detail", args=[alices_customer.pk])).status_code == 403


def test_customer_list_is_scoped_searchable_and_paginated(client, account_manager, alices_customer):
    CustomerFactory.create_batch(60, account_manager=account_manager, segment="Enterprise")
    CustomerFactory.create_batch(3)
    client.force_login(account_manager)
    response = client.get(reverse("customers:list"))
    assert response.context["page"].paginator.count == 61
    assert len(response.context["page"].object_list) == 50
    response = client.get(reverse("customers:list"), {"q": "northwind"})
    assert [c.name for c in response.context["page"]] == ["Northwind Logistics"]
    response = client.get(reverse("customers:list"), {"segment": "Enterprise", "page": 2})
    assert len(response.context["page"].object_list) == 10


def test_customer_list_runs_a_fixed_number_of_queries(
    client, executive, django_assert_max_num_queries
):
    CustomerFactory.create_batch(30)
    client.force_login(executive)
    # Session, user, personas, the run, count, page, the filter choices: not one per row.
    with django_assert_max_num_queries(13):
        client.get(reverse("customers:list"))


def test_healthz_reports_the_database(client):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_account_manager_home_shows_listening_commitments_behind(client, account_manager):
    from tests.factories import AgreedCharterFactory, CommitmentFactory

    customer = CustomerFactory(name="Harbor Foods", account_manager=account_manager)
    charter = AgreedCharterFactory(customer=customer)
    CommitmentFactory(blueprint=charter.blueprint, kind="listening", title="Quarterly review",
                      metric="listening_sessions_per_year", target=Decimal("4"))  # fmt: skip
    client.force_login(account_manager)
    response = client.get(reverse("home"))
    due = response.context["listening_due"]
    assert [(d.customer.name, d.commitment, d.missing) for d in due] == [
        ("Harbor Foods", "Quarterly review", 4)
    ]
    assert "4 to hold" in response.content.decode()


def test_customer_page_shows_the_waterfall_and_timeline_after_a_run(client, executive):
    from economics.models import CustomerScore, EconomicsRun

    customer = CustomerFactory(name="Northwind Logistics")
    OrderFactory(customer=customer, date=dt.date(2024, 3, 1))
    SupportTicketFactory(customer=customer, is_complaint=True, subject="Late delivery")
    run = EconomicsRun.objects.create(
        as_of=dt.date(2024, 12, 31), status="succeeded", active=None, is_current=True
    )
    CustomerScore.objects.create(run=run, customer=customer, revenue=Decimal("1000"),
                                 gross_margin=Decimal("400"), clv=Decimal("-20"),
                                 profit_to_date=Decimal("-20"), klass="let_go")  # fmt: skip
    client.force_login(executive)
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    waterfall = response.context["waterfall"]["data"][0]
    assert waterfall["type"] == "waterfall"
    assert waterfall["x"][0] == "Revenue" and waterfall["x"][-1] == "CLV"
    kinds = {e["kind"] for e in response.context["recent_events"]}
    assert kinds == {"Order", "Complaint"}
    assert "Let go candidate" in response.content.decode()
