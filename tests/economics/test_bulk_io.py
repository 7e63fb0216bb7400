"""Bulk reads and writes of a run: the same frames as the ORM reads, the same scores and
flags as the row-by-row writes gave."""

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.utils import timezone

from customers.demo import demo_seed
from customers.models import Customer
from economics import bulk, engine
from economics.inputs import load_run_inputs
from economics.metrics.data import load_metric_data
from economics.models import CustomerFlag, CustomerScore, EconomicsRun
from economics.services import _parameters, cost_model_get, params_from
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db
END = dt.date(2026, 11, 20)
TABLES = ["customers", "orders", "invoices", "tickets", "activities", "referrals", "feedback"]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def test_bulk_reads_give_the_frames_the_orm_gives():
    demo_seed(customers=40, end=END)
    awkward = CustomerFactory(
        segment='Big, "awkward"\nsegment', sales_rep="", acquisition_channel="Ads, paid"
    )
    OrderFactory(customer=awkward, date=dt.date(2026, 1, 5), category='Tools, "hand"')
    default = load_metric_data(as_of=END)  # in bulk on PostgreSQL
    orm = load_metric_data(as_of=END, bulk=False)
    for name in TABLES:
        a, b = getattr(default, name), getattr(orm, name)
        assert dict(a.dtypes.astype(str)) == dict(b.dtypes.astype(str)), name
        if name == "customers":
            pd.testing.assert_frame_equal(a, b)
        else:
            pd.testing.assert_frame_equal(_sorted(a), _sorted(b))
    assert default.customers.loc[awkward.pk, "segment"] == 'Big, "awkward"\nsegment'
    assert default.orders["category"].eq('Tools, "hand"').sum() == 1
    assert str(default.orders["date"].dtype) == "datetime64[s]"
    assert str(default.tickets["opened_at"].dtype) == "datetime64[us]"  # local, naive


def test_bulk_reads_of_a_few_customers_read_only_theirs():
    demo_seed(customers=30, end=END)
    some = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[5:9])
    data = load_metric_data(as_of=END, customer_ids=some)
    assert sorted(data.customers.index) == some
    assert set(data.orders["customer_id"]) <= set(some)
    assert len(data.orders) == len(
        load_metric_data(as_of=END, customer_ids=some, bulk=False).orders
    )


def _run(**fields) -> EconomicsRun:
    values = {"as_of": END, "status": EconomicsRun.Status.RUNNING, "active": True, **fields}
    return EconomicsRun.objects.create(**values)


def test_scores_written_in_bulk_read_back_as_computed():
    demo_seed(customers=60, end=END)
    params = params_from(_parameters(cost_model_get()))
    result = engine.compute(load_run_inputs(as_of=END), params)
    run = _run()
    assert bulk.scores_write(run.pk, result.scores) == len(result.scores) == 60
    stored = {s.customer_id: s for s in CustomerScore.objects.filter(run=run)}
    assert len(stored) == 60
    for customer_id, row in result.scores.iterrows():
        s = stored[customer_id]
        assert s.clv == Decimal(f"{row['clv']:.2f}")
        assert s.cost_to_serve == Decimal(f"{max(row['cost_to_serve'], 0):.2f}")
        assert s.frequency == int(row["frequency"])
        assert s.klass == row["klass"]
        assert s.flags == row["flags"]
        if np.isnan(row["p_alive"]):
            assert s.p_alive is None
        else:
            assert s.p_alive == pytest.approx(row["p_alive"], rel=1e-12)
        assert (s.role_fit is None) == bool(np.isnan(row["role_fit"]))


def test_flags_follow_the_run_set_by_set():
    a, b, c = CustomerFactory.create_batch(3)
    earlier = _run(status=EconomicsRun.Status.SUCCEEDED, active=None, is_current=True)
    kept = CustomerFlag.objects.create(
        customer=a, kind="at_risk", detail="old", raised_by=earlier, decision="accepted"
    )
    cleared = CustomerFlag.objects.create(customer=b, kind="unprofitable", raised_by=earlier)
    run = _run()
    scores = pd.DataFrame(
        {
            "clv": [10.0, 50.0, -1234.4],
            "p_alive": [0.214, 0.9, 0.8],
            "flag_mask": [
                1 << engine.FLAG_KINDS.index("at_risk"),
                0,
                1 << engine.FLAG_KINDS.index("unprofitable"),
            ],
        },
        index=[a.pk, b.pk, c.pk],
    )
    counts = bulk.flags_sync(run.pk, scores, timezone.now())
    assert counts == {"opened": 1, "kept": 1, "closed": 1}
    kept.refresh_from_db()
    assert (kept.status, kept.decision, kept.detail) == ("open", "accepted", "P(active) 21%")
    assert kept.raised_by_id == earlier.pk and kept.last_seen_by_id is None
    cleared.refresh_from_db()
    assert (cleared.status, cleared.closed_by_id) == ("closed", run.pk)
    assert cleared.last_seen_by_id == earlier.pk  # the run current until now
    assert cleared.closed_at is not None
    opened = CustomerFlag.objects.get(customer=c)
    assert (opened.status, opened.kind, opened.detail) == ("open", "unprofitable", "CLV -1,234")
    assert opened.raised_by_id == run.pk and opened.last_seen_by_id is None
    assert opened.opened_at is not None and opened.decision == ""
    # Nothing is left behind for the next run.
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    assert bulk.RAISED not in tables


@pytest.mark.django_db(transaction=True)
def test_bulk_reads_outside_a_transaction_read_tables_side_by_side_and_agree():
    demo_seed(customers=30, end=END)
    assert not connection.in_atomic_block  # on PostgreSQL: two connections, two tables at once
    side_by_side = load_metric_data(as_of=END)
    orm = load_metric_data(as_of=END, bulk=False)
    for name in TABLES:
        a, b = getattr(side_by_side, name), getattr(orm, name)
        assert len(a) == len(b) > 0, name
        if name != "customers":
            pd.testing.assert_frame_equal(_sorted(a), _sorted(b))


def test_only_columns_that_can_be_null_are_wrapped_for_it():
    from customers.models import Invoice, ServiceActivity
    from economics.metrics.data import DATE, _nullable, _sql_expression

    assert not _nullable(Invoice, "customer_id")
    assert not _nullable(Invoice, "due_on")
    assert _nullable(Invoice, "paid_on")
    assert not _nullable(ServiceActivity, "activity_type__kind")
    assert _nullable(Customer, "account_manager_id")
    assert _nullable(Customer, "account_manager__username")  # through a nullable key
    assert _sql_expression("c1", DATE, nullable=False) == "(c1 - DATE '1970-01-01')"
    assert _sql_expression("c1", DATE).startswith("coalesce(")
