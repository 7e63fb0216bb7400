"""The one customer filter that lists, exports, bulk actions and drill-downs share."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from customers.filters import CustomerFilter
from customers.models import Customer
from customers.selectors import CustomerPages, customer_list
from economics.models import CustomerFlag, CustomerScore, EconomicsRun
from tests.factories import AgreedCharterFactory, CustomerFactory, RoleBlueprintFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(account_manager):
    run = EconomicsRun.objects.create(
        as_of=dt.date(2024, 12, 31), status="succeeded", active=None, is_current=True
    )
    a = CustomerFactory(name="Alpha", segment="Enterprise", acquisition_channel="Partner",
                        sales_rep="Ann", account_manager=account_manager)  # fmt: skip
    b = CustomerFactory(name="Bravo", segment="Enterprise", acquisition_channel="Paid ads",
                        sales_rep="Ben")  # fmt: skip
    c = CustomerFactory(name="Charlie", segment="Small business", sales_rep="Ben")
    for customer, clv, klass in [(a, "900", "partner"), (b, "-50", "let_go"), (c, "10", "develop")]:
        CustomerScore.objects.create(run=run, customer=customer, clv=Decimal(clv), klass=klass)
    role = RoleBlueprintFactory(name="Strategic")
    AgreedCharterFactory(customer=a, blueprint=role)
    CustomerFlag.objects.create(customer=b, kind="unprofitable")
    return {"a": a, "b": b, "c": c, "role": role}


def names(params: dict) -> list[str]:
    q = QueryDict(mutable=True)
    q.update(params)
    return [c.name for c in CustomerFilter.from_query(q).apply(Customer.objects.all())]


def test_each_filter(scored, account_manager):
    assert names({"segment": "Enterprise"}) == ["Alpha", "Bravo"]
    assert names({"channel": "Paid ads"}) == ["Bravo"]
    assert names({"rep": "Ben"}) == ["Bravo", "Charlie"]
    assert names({"manager": str(account_manager.pk)}) == ["Alpha"]
    assert names({"blueprint": str(scored["role"].pk)}) == ["Alpha"]
    assert names({"klass": "let_go"}) == ["Bravo"]
    assert names({"flag": "unprofitable"}) == ["Bravo"]
    assert names({"unprofitable": "1"}) == ["Bravo"]
    assert names({"q": "char"}) == ["Charlie"]


def test_sorting_by_clv_and_junk_values(scored):
    assert names({"sort": "-clv"}) == ["Alpha", "Charlie", "Bravo"]
    assert names({"sort": "clv"}) == ["Bravo", "Charlie", "Alpha"]
    assert names({"sort": "drop table", "manager": "x"}) == ["Alpha", "Bravo", "Charlie"]


def test_it_round_trips_through_the_query_string(scored):
    f = CustomerFilter(segment="Enterprise", unprofitable=True, sort="-clv")
    assert CustomerFilter.from_query(QueryDict(f.querystring())) == f
    assert f.is_active() and not CustomerFilter().is_active()


def test_before_any_run_figures_filters_find_nothing(db):
    CustomerFactory()
    assert names({"klass": "partner"}) == []
    assert len(names({})) == 1


@pytest.mark.parametrize(
    "params",
    [{}, {"segment": "Enterprise"}, {"klass": "let_go"}, {"unprofitable": "1"}, {"q": "a"},
     {"flag": "unprofitable", "sort": "-clv"}],
)  # fmt: skip
def test_pages_count_what_the_list_holds_without_joining_the_scores(scored, executive, params):
    q = QueryDict(mutable=True)
    q.update(params)
    filters = CustomerFilter.from_query(q)
    pages = CustomerPages(user=executive, filters=filters)
    listed = [c.name for c in customer_list(user=executive, filters=filters)]
    with CaptureQueriesContext(connection) as counted:
        assert pages.count() == len(listed)
    (count_sql,) = [q["sql"] for q in counted.captured_queries if "COUNT(" in q["sql"]]
    assert "economics_customerscore" not in count_sql.split("WHERE")[0]  # no join
    assert [c.name for c in pages[0:2]] == listed[:2]


def test_before_any_run_pages_count_every_visible_customer(db, executive):
    CustomerFactory(), CustomerFactory()
    assert CustomerPages(user=executive).count() == 2
    assert CustomerPages(user=executive, filters=CustomerFilter(klass="partner")).count() == 0
