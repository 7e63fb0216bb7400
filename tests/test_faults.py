"""When something is down: a friendly page without a stack trace, and /healthz says what."""

import pytest
from django.db import OperationalError
from django.urls import reverse

from economics.models import EconomicsRun

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database_the_broker_and_the_figures(client):
    EconomicsRun.objects.create(as_of="2026-01-01", status="succeeded", active=None,
                                is_current=True, finished_at="2026-01-01T00:00:00Z")  # fmt: skip
    body = client.get(reverse("healthz")).json()
    assert body["database"] == "ok"
    assert body["current_run"] is not None
    assert body["last_good_run_age_s"] > 0
    assert "broker" in body


def test_healthz_says_503_when_the_database_is_down(client, monkeypatch):
    from config import views

    class Broken:
        def cursor(self):
            raise OperationalError("connection refused")

    monkeypatch.setattr(views, "connection", Broken())
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["database"] == "error: OperationalError"


def test_a_database_failure_shows_a_friendly_page_without_a_trace(client, executive, monkeypatch):
    from customers import views

    def broken(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views.selectors, "customer_list", broken)
    client.raise_request_exception = False
    client.force_login(executive)
    response = client.get(reverse("customers:list"))
    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong on our side" in page
    assert "Traceback" not in page and "OperationalError" not in page
