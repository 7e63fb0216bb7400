"""The economics over the REST API: admins and executives start runs and set the cost
model; customers read back with the current run's figures."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from economics.models import EconomicsRun
from tests.economics.conftest import AS_OF

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return api


def test_an_executive_starts_a_run_and_follows_it(
    executive, simulated_base, django_capture_on_commit_callbacks, eager_tasks
):
    api = client_for(executive)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/economics/runs/", {"as_of": AS_OF.isoformat()}, format="json")
    assert response.status_code == 202
    run_id = response.json()["id"]
    detail = api.get(f"/api/v1/economics/runs/{run_id}/").json()
    assert detail["status"] == "succeeded"
    assert detail["report"]["model"]["bgnbd"]["converged"] is True
    assert detail["report"]["kpis"]["customers"] == len(simulated_base)


def test_a_second_run_gets_409(executive, simulated_base):
    EconomicsRun.objects.create(as_of=AS_OF)
    response = client_for(executive).post("/api/v1/economics/runs/", {}, format="json")
    assert response.status_code == 409
    assert "already under way" in response.json()["detail"]


def test_a_bad_date_gets_400(admin_user):
    response = client_for(admin_user).post(
        "/api/v1/economics/runs/", {"as_of": "31/12/2024"}, format="json"
    )
    assert response.status_code == 400
    assert "as_of" in response.json()["errors"]


@pytest.mark.parametrize("persona", ["account_manager", "cx_analyst", "integrator"])
def test_other_personas_may_not_run_or_read_runs(request, persona):
    api = client_for(request.getfixturevalue(persona))
    assert api.post("/api/v1/economics/runs/", {}, format="json").status_code == 403
    assert api.get("/api/v1/economics/runs/").status_code == 403
    assert api.get("/api/v1/economics/cost-model/").status_code == 403


def test_the_cost_model_over_the_api(admin_user):
    api = client_for(admin_user)
    assert api.get("/api/v1/economics/cost-model/").json()["forecast_horizon_months"] == 36
    response = api.patch(
        "/api/v1/economics/cost-model/", {"forecast_horizon_months": 24}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["forecast_horizon_months"] == 24
    bad = api.patch("/api/v1/economics/cost-model/", {"annual_discount_rate": "7"}, format="json")
    assert bad.status_code == 400


def test_customers_carry_the_current_figures(executive, integrator, simulated_base):
    from economics.services import run_execute, run_request

    run_execute(run_request(as_of=AS_OF, enqueue=False).pk)
    body = client_for(executive).get("/api/v1/customers/").json()
    figures = body["results"][0]["economics"]
    assert figures["as_of"] == AS_OF.isoformat()
    assert {"clv", "p_alive", "role_fit", "klass", "flags"} <= set(figures)
    feed = client_for(integrator).get("/api/v1/customers/").json()
    assert feed["results"][0]["economics"] is None
