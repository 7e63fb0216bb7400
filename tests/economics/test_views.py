import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from economics.models import CostModel, EconomicsRun
from economics.services import cost_model_get
from tests.factories import ActivityTypeFactory

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_sign_in(client):
    for name in ["economics:cost_model", "economics:run_list"]:
        response = client.get(reverse(name))
        assert response.status_code == 302 and "/accounts/login/" in response.url


@pytest.mark.parametrize("persona", ["account_manager", "cx_analyst", "integrator"])
def test_others_may_not_use_the_cost_model_or_runs(client, request, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("economics:cost_model")).status_code == 403
    assert client.get(reverse("economics:run_list")).status_code == 403
    assert client.post(reverse("economics:run_start")).status_code == 403


def test_an_executive_changes_the_cost_model(client, executive):
    client.force_login(executive)
    form = client.get(reverse("economics:cost_model")).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update({"complaint_handling_cost": "150.00", "nightly_run": "on"})
    response = client.post(reverse("economics:cost_model"), data)
    assert response.status_code == 302
    model = cost_model_get()
    assert model.complaint_handling_cost == Decimal("150.00")
    assert model.updated_by == executive


def test_a_bad_cost_model_saves_nothing(client, admin_user):
    client.force_login(admin_user)
    form = client.get(reverse("economics:cost_model")).context["form"]
    data = {k: v for k, v in form.initial.items() if v is not None}
    data["annual_discount_rate"] = "1.5"
    response = client.post(reverse("economics:cost_model"), data)
    assert response.status_code == 200
    assert CostModel.objects.get().annual_discount_rate == Decimal("0.1000")


def test_a_unit_cost_from_a_date_keeps_the_older_one(client, admin_user):
    visit = ActivityTypeFactory(code="site-visit")
    client.force_login(admin_user)
    for day, cost in [("2023-01-01", "100"), ("2024-01-01", "120")]:
        client.post(
            reverse("economics:activity_rate_add"),
            {"activity_type": visit.pk, "effective_from": day, "unit_cost": cost},
        )
    assert visit.unit_cost_on(dt.date(2023, 6, 1)) == Decimal("100")
    assert visit.unit_cost_on(dt.date(2024, 6, 1)) == Decimal("120")


def test_run_now_computes_and_shows_the_run(
    client, executive, simulated_base, django_capture_on_commit_callbacks, eager_tasks
):
    client.force_login(executive)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("economics:run_start"), {"as_of": "2024-12-31"})
    run = EconomicsRun.objects.get()
    assert response.url == reverse("economics:run_detail", args=[run.pk])
    assert run.status == EconomicsRun.Status.SUCCEEDED  # no broker: it ran in-process
    page = client.get(response.url)
    assert "Cost of a complaint" in page.content.decode()
    progress = client.get(reverse("economics:run_progress", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert "finished" in progress.content.decode()


def test_a_second_run_is_refused_with_a_message(client, executive, simulated_base):
    EconomicsRun.objects.create(as_of=dt.date(2024, 12, 31))  # queued, not yet taken
    client.force_login(executive)
    response = client.post(reverse("economics:run_start"), {"as_of": "2024-12-31"}, follow=True)
    assert "already under way" in response.content.decode()
    assert EconomicsRun.objects.count() == 1


def test_a_future_as_of_date_is_refused(client, executive):
    client.force_login(executive)
    response = client.post(reverse("economics:run_start"), {"as_of": "2999-01-01"}, follow=True)
    assert "future date" in response.content.decode()
    assert not EconomicsRun.objects.exists()
