"""The worked example of docs/economics.md, number by number.

Harbor Foods, as of 31 Dec 2024, with the default cost model and given model
parameters (BG/NBD r=0.25, α=4, a=0.8, b=2.5; Gamma-Gamma p=6, q=4, γ=15). Money is
worked out by hand; the model's predictions are checked against an independent
computation (the posterior integrated numerically, no hypergeometric function).
"""

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from scipy import integrate, stats

from economics import clv, engine
from economics.inputs import load_run_inputs
from economics.services import _parameters, cost_model_get, params_from
from roles.models import Charter
from tests.factories import (
    ActivityRateFactory,
    ActivityTypeFactory,
    CommitmentFactory,
    CustomerFactory,
    InvoiceFactory,
    LifecycleExpectationFactory,
    OrderFactory,
    RoleBlueprintFactory,
    ServiceActivityFactory,
    SupportTicketFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2024, 12, 31)
BG = clv.BGNBDFit(r=0.25, alpha=4.0, a=0.8, b=2.5, log_likelihood=0.0, converged=True,
                  iterations=0, n_customers=1, message="given")  # fmt: skip
GG = clv.GammaGammaFit(p=6.0, q=4.0, gamma=15.0, log_likelihood=0.0, converged=True,
                       n_customers=1)  # fmt: skip


@pytest.fixture
def harbor_foods():
    manager = UserFactory(username="alice")
    c = CustomerFactory(
        name="Harbor Foods", segment="Mid-market", acquired_on=dt.date(2023, 1, 1),
        acquisition_cost=Decimal("500.00"), sales_bonus=Decimal("100.00"),
        account_manager=manager,
    )  # fmt: skip
    orders = [("2023-01-10", 1000, 600), ("2023-07-10", 1000, 600), ("2024-03-15", 2000, 1200),
              ("2024-09-20", 1500, 900)]  # fmt: skip
    paid = ["2023-02-01", "2023-08-01", "2024-05-14", "2024-10-10"]
    for (day, revenue, cost), paid_on in zip(orders, paid, strict=True):
        d = dt.date.fromisoformat(day)
        OrderFactory(customer=c, date=d, revenue=Decimal(revenue), cost=Decimal(cost))
        InvoiceFactory(customer=c, issued_on=d, due_on=d + dt.timedelta(days=30),
                       paid_on=dt.date.fromisoformat(paid_on), amount=Decimal(revenue))  # fmt: skip
    visit = ActivityTypeFactory(code="site-visit", kind="service")
    ActivityRateFactory(activity_type=visit, effective_from=dt.date(2020, 1, 1), unit_cost=100)
    ActivityRateFactory(activity_type=visit, effective_from=dt.date(2024, 1, 1), unit_cost=150)
    credit = ActivityTypeFactory(code="credit-note", kind="concession")
    ActivityRateFactory(activity_type=credit, effective_from=dt.date(2020, 1, 1), unit_cost=20)
    ServiceActivityFactory(customer=c, activity_type=visit, date=dt.date(2023, 5, 1), quantity=2)
    ServiceActivityFactory(customer=c, activity_type=visit, date=dt.date(2024, 5, 1), quantity=1)
    ServiceActivityFactory(customer=c, activity_type=credit, date=dt.date(2024, 3, 20),
                           quantity=1, amount=Decimal("250.00"))  # fmt: skip
    for when, complaint in [((2023, 6, 5), False), ((2024, 4, 8), False), ((2024, 3, 16), True)]:
        SupportTicketFactory(customer=c, is_complaint=complaint,
                             opened_at=dt.datetime(*when, 10, tzinfo=dt.UTC))  # fmt: skip
    role = RoleBlueprintFactory(name="Growth account")
    LifecycleExpectationFactory(blueprint=role, stage="repeat_purchase",
                                metric="repeat_purchases_per_year", target=3)  # fmt: skip
    LifecycleExpectationFactory(blueprint=role, stage="on_time_payment",
                                metric="on_time_payment_share", target=Decimal("0.9"))  # fmt: skip
    CommitmentFactory(blueprint=role, kind="preferred", title="Dedicated manager",
                      metric="dedicated_manager_assigned", target=1, yearly_cost=530)  # fmt: skip
    CommitmentFactory(blueprint=role, kind="surprise", title="A surprise a year",
                      metric="surprises_per_year", target=1, yearly_cost=200)  # fmt: skip
    Charter.objects.create(customer=c, blueprint=role, status="agreed",
                           agreed_on=dt.date(2024, 7, 4), agreed_by="Maria Lopez")  # fmt: skip
    return c


def expected_purchases_by_integration(t, x, t_x, T, r, alpha, a, b) -> float:
    """E[X(t) | x, t_x, T] with λ integrated out in closed form and p numerically."""
    beta = stats.beta(a, b).pdf
    k = r + x

    def alive_future(p):
        return (1 - p) ** x / p * ((alpha + T) ** -k - (alpha + T + p * t) ** -k) * beta(p)

    def likelihood(p):
        dead = p * (1 - p) ** (x - 1) * (alpha + t_x) ** -k if x > 0 else 0.0
        return ((1 - p) ** x * (alpha + T) ** -k + dead) * beta(p)

    top = integrate.quad(alive_future, 0, 1, epsabs=0, epsrel=1e-12, limit=200)[0]
    bottom = integrate.quad(likelihood, 0, 1, epsabs=0, epsrel=1e-12, limit=200)[0]
    return top / bottom


def test_the_worked_example(harbor_foods):
    inputs = load_run_inputs(as_of=AS_OF)
    params = params_from(_parameters(cost_model_get()))
    result = engine.compute(inputs, params, fits=(BG, GG))
    row = result.scores.loc[harbor_foods.pk]

    # Money to date.
    assert row["revenue"] == pytest.approx(5500.00)
    assert row["gross_margin"] == pytest.approx(2200.00)
    assert row["cost_activities"] == pytest.approx(2 * 100 + 1 * 150 + 1 * 20)
    assert row["cost_tickets"] == pytest.approx(2 * 25)
    assert row["cost_complaints"] == pytest.approx(1 * 120)
    assert row["cost_concessions"] == pytest.approx(250)
    capital = 2000 * 30 / 365 * 0.08  # the March invoice, paid 30 days late
    assert row["cost_collection"] == pytest.approx(15 + capital)
    assert row["cost_commitments"] == pytest.approx(730 * 181 / 365)  # 4 Jul 2024 – 31 Dec
    cost_to_serve = 370 + 50 + 120 + 250 + 15 + capital + 362
    assert row["cost_to_serve"] == pytest.approx(cost_to_serve)
    assert round(cost_to_serve, 2) == 1180.15
    assert row["acquisition_cost"] == pytest.approx(600)
    assert row["profit_to_date"] == pytest.approx(2200 - cost_to_serve - 600)
    assert round(row["profit_to_date"], 2) == 419.85

    # The last twelve months.
    assert row["annual_value"] == pytest.approx(800 + 600)
    annual_cts = 150 + 20 + 25 + 120 + 250 + 15 + capital + 362
    assert row["annual_cost_to_serve"] == pytest.approx(annual_cts)
    assert round(annual_cts, 2) == 955.15
    assert row["annual_profit"] == pytest.approx(1400 - annual_cts)

    # The summary the model sees: 3 repeat purchases, 619 and 721 days.
    assert row["frequency"] == 3
    assert row["recency_weeks"] == pytest.approx(619 / 7)
    assert row["age_weeks"] == pytest.approx(721 / 7)

    # P(alive) and the margin per purchase, by their closed forms.
    x, t_x, T = 3, 619 / 7, 721 / 7
    p_alive = 1 / (1 + 0.8 / (2.5 + x - 1) * ((4 + T) / (4 + t_x)) ** (0.25 + x))
    assert row["p_alive"] == pytest.approx(p_alive, rel=1e-9)
    margin = 6 * (15 + x * 600) / (6 * x + 4 - 1)
    assert margin == pytest.approx(518.571428, rel=1e-6)
    assert row["expected_margin_per_purchase"] == pytest.approx(margin, rel=1e-9)

    # Expected purchases and discounted margin over 36 months, in 4-week steps.
    steps = np.arange(4, 157, 4)
    cumulative = [expected_purchases_by_integration(t, x, t_x, T, 0.25, 4, 0.8, 2.5)
                  for t in steps]  # fmt: skip
    assert row["expected_purchases"] == pytest.approx(cumulative[-1], rel=1e-6)
    increments = np.diff(np.concatenate([[0.0], cumulative]))
    discount = 1.1 ** (-steps / 52)
    future_margin = float((increments * margin * discount).sum())
    assert row["future_margin"] == pytest.approx(future_margin, rel=1e-6)
    future_cts = annual_cts * p_alive * float((4 / 52 * discount).sum())
    assert row["future_cost_to_serve"] == pytest.approx(future_cts, rel=1e-9)
    clv_value = 2200 - cost_to_serve - 600 + future_margin - future_cts
    assert row["clv"] == pytest.approx(clv_value, rel=1e-6)
    # The figures docs/economics.md quotes.
    assert (round(p_alive, 4), round(cumulative[-1], 4)) == (0.7775, 2.7635)
    assert (round(future_margin, 2), round(future_cts, 2)) == (1257.59, 1930.71)
    assert round(clv_value, 2) == -253.27

    # Both sides of the charter: 2 repeat purchases of 3, 3 of 4 invoices on time (0.75
    # of 0.9); a manager but no surprise.
    assert row["role_fit"] == pytest.approx(100 * (2 / 3 + 0.75 / 0.9) / 2)
    assert row["compliance"] == pytest.approx(50.0)
    # It fits its role but loses money, and we break our promises: fix our side.
    assert row["klass"] == "fix_our_side"
    assert row["flags"] == ["unprofitable", "failed_by_us"]
    # Serving it cost 955 this year against 1,400 of margin: under the default ratio of
    # 1.0, so not "costly to serve"; at 0.5 it would be.
    assert row["annual_cost_to_serve"] / row["annual_value"] == pytest.approx(0.682, abs=1e-3)

    # Company KPIs: one complaint, with a 250 credit four days later.
    assert result.kpis["cost_of_complaint"] == pytest.approx(120 + 250)
    assert result.kpis["annual_value_of_customer"] == pytest.approx(1400)
    assert result.kpis["cost_of_new_customer"] == pytest.approx(600)
