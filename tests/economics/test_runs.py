"""Economics runs: the results appear all at once, a failure leaves the previous run
current, one run at a time, and the same inputs give the same numbers."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from economics import services
from economics.models import CustomerFlag, CustomerScore, EconomicsRun
from economics.selectors import current_run
from tests.economics.conftest import AS_OF

pytestmark = pytest.mark.django_db


def run(as_of=AS_OF, **kwargs) -> EconomicsRun:
    queued = services.run_request(as_of=as_of, enqueue=False, **kwargs)
    return services.run_execute(queued.pk)


def test_a_run_scores_every_customer_and_becomes_current(simulated_base):
    done = run()
    assert done.status == EconomicsRun.Status.SUCCEEDED
    assert current_run() == done
    assert done.customers == len(simulated_base)
    assert CustomerScore.objects.filter(run=done).count() == len(simulated_base)
    bg = done.model["bgnbd"]
    assert bg["converged"] and bg["n_customers"] > 300
    assert set(done.kpis) >= {
        "cost_of_complaint",
        "cost_of_new_customer",
        "clv_to_cac",
        "annual_value_of_customer",
        "unprofitable_share",
        "whale_curve",
    }
    assert done.kpis["cost_of_complaint"] == pytest.approx(120.0)  # no concessions here
    assert done.timings and done.finished_at


def test_a_failure_half_way_leaves_the_previous_run_current(simulated_base):
    good = run()
    queued = services.run_request(as_of=AS_OF - dt.timedelta(days=30), enqueue=False)
    with pytest.raises(RuntimeError, match="injected"):
        services.run_execute(queued.pk, fail_at="saving scores")
    queued.refresh_from_db()
    assert queued.status == EconomicsRun.Status.FAILED
    assert "injected" in queued.error
    assert current_run() == good
    assert not CustomerScore.objects.filter(run=queued).exists()
    # The failed run no longer blocks the next one.
    assert run().status == EconomicsRun.Status.SUCCEEDED


def test_one_run_at_a_time(simulated_base):
    services.run_request(as_of=AS_OF, enqueue=False)
    with pytest.raises(services.EconomicsRunBusy, match="already under way"):
        services.run_request(as_of=AS_OF, enqueue=False)


def test_a_run_is_taken_once(simulated_base):
    queued = services.run_request(as_of=AS_OF, enqueue=False)
    assert services.run_execute(queued.pk) is not None
    assert services.run_execute(queued.pk) is None  # a redelivered task does nothing


def test_same_data_date_and_parameters_give_the_same_numbers(simulated_base):
    first, second = run(), run()
    fields = ["customer_id", "clv", "p_alive", "cost_to_serve", "role_fit", "klass"]
    a = list(CustomerScore.objects.filter(run=first).order_by("customer_id").values_list(*fields))
    b = list(CustomerScore.objects.filter(run=second).order_by("customer_id").values_list(*fields))
    assert a == b
    assert first.model["bgnbd"] == second.model["bgnbd"]


def test_a_holdout_must_end_after_the_as_of_date(simulated_base):
    with pytest.raises(ValidationError):
        services.run_request(as_of=AS_OF, holdout_end=AS_OF, enqueue=False)


def test_the_holdout_compares_predicted_with_actual(simulated_base):
    done = run(as_of=AS_OF - dt.timedelta(days=182), holdout_end=AS_OF)
    holdout = done.holdout
    assert holdout["actual"] > 0
    # The model fits its own simulation: within 25 % in aggregate over half a year.
    assert holdout["predicted"] == pytest.approx(holdout["actual"], rel=0.25)
    assert len(holdout["tracking"]["week"]) == len(holdout["tracking"]["actual"])
    assert CustomerScore.objects.filter(run=done, holdout_actual__gt=0).exists()


def test_flags_persist_with_their_decision_and_close_when_cleared(simulated_base, cx_analyst):
    run()
    flag = CustomerFlag.objects.filter(kind="inherently_unhappy").first()
    assert flag is not None, "the complainers are flagged"
    services.flag_decide(flag=flag, decision="accepted", user=cx_analyst, reason="Talked to them")
    run()
    flag.refresh_from_db()
    assert flag.status == CustomerFlag.Status.OPEN
    assert flag.decision == "accepted" and flag.decided_by == cx_analyst
    assert CustomerFlag.objects.filter(customer=flag.customer, kind=flag.kind).count() == 1
    # The complaints are withdrawn: the next run closes the flag, keeping its history.
    flag.customer.tickets.all().delete()
    run()
    flag.refresh_from_db()
    assert flag.status == CustomerFlag.Status.CLOSED
    assert flag.closed_at is not None and flag.decision == "accepted"


def test_dismissing_a_flag_needs_a_reason(simulated_base, cx_analyst):
    run()
    flag = CustomerFlag.objects.first()
    with pytest.raises(ValidationError):
        services.flag_decide(flag=flag, decision="dismissed", user=cx_analyst, reason=" ")


def test_old_runs_are_pruned(simulated_base, admin_user):
    services.cost_model_update(user=admin_user, runs_kept=2)
    runs = [run() for _ in range(3)]
    assert list(EconomicsRun.objects.order_by("pk")) == runs[1:]
    assert current_run() == runs[-1]


def test_the_command_prints_the_json_report(simulated_base, capsys):
    import json

    call_command("run_economics", "--as-of", "2024-12-31", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["as_of"] == "2024-12-31"
    assert report["customers"] == len(simulated_base)
    assert set(report["model"]["bgnbd"]) >= {"r", "alpha", "a", "b", "log_likelihood", "time_unit"}
    assert set(report["model"]["gamma_gamma"]) >= {"p", "q", "gamma", "n_customers"}
    assert set(report["timings"])
