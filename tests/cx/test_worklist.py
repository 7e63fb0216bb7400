"""The worklist: who is on it, its filters, sorts and pages, bulk actions, snoozed
flags coming back on their date, and a query count that does not grow with the page."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from cx import selectors, services
from cx.filters import WorklistFilter
from cx.models import Case
from economics.models import CustomerFlag
from tests.cx.conftest import flagged
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

WORKLIST = reverse("cx:worklist")
BULK = reverse("cx:worklist_bulk")


def names(user, **params) -> list[str]:
    q = QueryDict(mutable=True)
    q.update(params)
    return [c.name for c in selectors.worklist(user=user, filters=WorklistFilter.from_query(q))]


@pytest.fixture
def base(run, account_manager, other_account_manager):
    """Four flagged customers, one without flags, one released."""
    return {
        "a": flagged(run, "Alpha", "unprofitable", "at_risk", clv="-900", annual_value="100",
                     p_alive=0.1, klass="let_go", segment="Enterprise",
                     account_manager=account_manager),
        "b": flagged(run, "Bravo", "costly_to_serve", clv="-50", annual_value="3000",
                     p_alive=0.8, klass="reprice", segment="Enterprise",
                     account_manager=other_account_manager),
        "c": flagged(run, "Charlie", "inherently_unhappy", "failed_by_us", "at_risk", clv="400",
                     annual_value="900", p_alive=0.4, klass="fix_our_side",
                     segment="Small business"),
        "d": flagged(run, "Delta", "failed_by_us", clv="1200", annual_value="2000", p_alive=None,
                     klass="develop", segment="Mid-market"),
        "quiet": flagged(run, "Echo (no flags)", clv="5000", klass="partner"),
        "gone": flagged(run, "Foxtrot (released)", "unprofitable", status="released",
                        released_on=dt.date(2024, 6, 1)),
    }  # fmt: skip


def test_it_lists_the_flagged_customers_biggest_losses_first(base, cx_analyst):
    assert names(cx_analyst) == ["Alpha", "Bravo", "Charlie", "Delta"]


def test_a_customer_with_a_case_in_progress_stays_on_it(base, cx_analyst):
    services.case_open(customer=base["quiet"], user=cx_analyst)
    services.case_open(customer=base["gone"], user=cx_analyst)
    assert "Echo (no flags)" in names(cx_analyst)
    assert "Foxtrot (released)" in names(cx_analyst)


def test_each_filter(base, cx_analyst, account_manager):
    assert names(cx_analyst, flag="at_risk") == ["Alpha", "Charlie"]
    assert names(cx_analyst, klass="reprice") == ["Bravo"]
    assert names(cx_analyst, segment="Enterprise") == ["Alpha", "Bravo"]
    assert names(cx_analyst, manager=str(account_manager.pk)) == ["Alpha"]
    assert names(cx_analyst, q="char") == ["Charlie"]
    assert names(cx_analyst, flag="failed_by_us", segment="Mid-market") == ["Delta"]
    assert names(cx_analyst, flag="nonsense", klass="junk", case="x") == names(cx_analyst)


def test_filtering_by_case_status(base, cx_analyst, executive):
    a = services.case_open(customer=base["a"], user=cx_analyst)
    b = services.case_open(customer=base["b"], user=cx_analyst)
    services.case_start_review(case=b, user=cx_analyst)
    c = services.case_open(customer=base["c"], user=cx_analyst)
    services.case_start_review(case=c, user=cx_analyst)
    services.case_decide(case=c, decision="keep", rationale="Fine.", user=cx_analyst)
    services.case_close(case=c, user=cx_analyst)
    d = services.case_open(customer=base["d"], user=cx_analyst)
    services.case_start_review(case=d, user=cx_analyst)
    services.case_decide(case=d, decision="let_go", rationale="Losses.", user=cx_analyst)

    assert names(cx_analyst, case="open") == ["Alpha"]
    assert names(cx_analyst, case="under_review") == ["Bravo"]
    assert names(cx_analyst, case="decided") == ["Delta"]
    assert names(cx_analyst, case="awaiting_approval") == ["Delta"]
    assert names(cx_analyst, case="done") == ["Charlie"]
    services.case_open(customer=base["c"], user=cx_analyst)  # a new case for Charlie
    assert names(cx_analyst, case="done") == []
    assert names(cx_analyst, case="none") == []
    assert a.pk and names(cx_analyst, case="open") == ["Alpha", "Charlie"]


def test_no_case_yet(base, cx_analyst):
    services.case_open(customer=base["a"], user=cx_analyst)
    assert names(cx_analyst, case="none") == ["Bravo", "Charlie", "Delta"]


def test_each_sort(base, cx_analyst):
    assert names(cx_analyst, sort="-clv") == ["Delta", "Charlie", "Bravo", "Alpha"]
    assert names(cx_analyst, sort="-annual_value") == ["Bravo", "Delta", "Charlie", "Alpha"]
    assert names(cx_analyst, sort="annual_value") == ["Alpha", "Charlie", "Delta", "Bravo"]
    # no P(alive) sorts last either way
    assert names(cx_analyst, sort="p_alive") == ["Alpha", "Charlie", "Bravo", "Delta"]
    assert names(cx_analyst, sort="-p_alive") == ["Bravo", "Charlie", "Alpha", "Delta"]
    assert names(cx_analyst, sort="-flags") == ["Charlie", "Alpha", "Bravo", "Delta"]
    assert names(cx_analyst, sort="name") == ["Alpha", "Bravo", "Charlie", "Delta"]
    assert names(cx_analyst, sort="-name") == ["Delta", "Charlie", "Bravo", "Alpha"]
    assert names(cx_analyst, sort="; drop table") == names(cx_analyst)


def test_the_page_shows_flags_figures_and_cases(client, base, cx_analyst):
    services.case_open(customer=base["a"], user=cx_analyst, assignee=cx_analyst)
    client.force_login(cx_analyst)
    page = client.get(WORKLIST).content.decode()
    assert "CLV -1,200" in page  # the flag's detail text
    assert "Cost to serve 9,000 a year" in page
    assert "EUR 3,000" in page and "−EUR 900" in page
    assert "10 %" in page  # P(alive)
    assert "Let go candidate" in page
    assert 'data-testid="case-link"' in page
    assert page.count('data-testid="worklist-row"') == 4


def test_it_pages_by_fifty(run, cx_analyst, client):
    for i in range(53):
        flagged(run, f"Customer {i:02d}", "at_risk", clv=str(-i))
    client.force_login(cx_analyst)
    first = client.get(WORKLIST)
    assert first.context["page"].paginator.count == 53
    assert len(first.context["page"].object_list) == 50
    second = client.get(WORKLIST + "?page=2")
    assert [c.name for c in second.context["page"]] == ["Customer 02", "Customer 01", "Customer 00"]


def test_sort_links_keep_the_filter_and_flip_the_direction(base, cx_analyst, client):
    client.force_login(cx_analyst)
    response = client.get(WORKLIST + "?flag=at_risk&sort=-clv")
    sorts = response.context["sorts"]
    assert sorts["clv"] == {"qs": "flag=at_risk", "arrow": "↓"}  # back to the default: clv
    assert sorts["flags"]["qs"] == "flag=at_risk&sort=-flags"


# --- snoozed and dismissed flags ----------------------------------------------------------


def test_a_snoozed_flag_is_off_the_worklist_until_its_date(run, cx_analyst):
    a = flagged(run, "Alpha", "at_risk")
    flagged(run, "Bravo", "at_risk")
    with time_machine.travel(dt.datetime(2025, 1, 15, 9, tzinfo=dt.UTC), tick=False):
        services.customers_flags_decide(
            customers=[a], decision="snoozed", snoozed_until=dt.date(2025, 2, 1), user=cx_analyst
        )
        assert names(cx_analyst) == ["Bravo"]
        assert names(cx_analyst, hidden="1") == ["Alpha", "Bravo"]
    with time_machine.travel(dt.datetime(2025, 1, 31, 23, tzinfo=dt.UTC), tick=False):
        assert names(cx_analyst) == ["Bravo"]
    with time_machine.travel(dt.datetime(2025, 2, 1, 0, 30, tzinfo=dt.UTC), tick=False):
        assert names(cx_analyst) == ["Alpha", "Bravo"]


def test_a_customer_with_one_snoozed_flag_and_another_stays_on(run, cx_analyst, client):
    a = flagged(run, "Alpha", "at_risk", "unprofitable")
    a.flags.filter(kind="at_risk").update(
        decision="snoozed", snoozed_until=timezone.localdate() + dt.timedelta(days=9)
    )
    assert names(cx_analyst) == ["Alpha"]
    assert names(cx_analyst, flag="at_risk") == []
    client.force_login(cx_analyst)
    row = client.get(WORKLIST).context["page"][0]
    assert row.flag_count == 1


def test_a_dismissed_flag_is_off_the_worklist(run, cx_analyst):
    a = flagged(run, "Alpha", "at_risk")
    a.flags.update(decision="dismissed", decision_reason="Seasonal buyer.")
    assert names(cx_analyst) == []
    assert names(cx_analyst, hidden="1") == ["Alpha"]


def test_a_closed_flag_is_off_the_worklist(run, cx_analyst):
    a = flagged(run, "Alpha", "at_risk")
    a.flags.update(status="closed", closed_at=timezone.now())
    assert names(cx_analyst, hidden="1") == []


# --- bulk actions -------------------------------------------------------------------------


def post_bulk(client, action: str, customers, **extra):
    return client.post(
        BULK, {"action": action, "customers": [c.pk for c in customers], **extra}, follow=True
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_bulk_open_cases_reports_done_and_skipped(base, cx_analyst, client):
    services.case_open(customer=base["a"], user=cx_analyst)
    client.force_login(cx_analyst)
    response = post_bulk(client, "open_cases", [base["a"], base["b"], base["c"]], flag="at_risk")
    assert response.redirect_chain[-1][0] == WORKLIST + "?flag=at_risk"
    assert messages_of(response) == [
        "Cases opened for 2 customers.",
        "1 skipped (a case is already in progress): Alpha.",
    ]
    assert Case.objects.count() == 3


def test_bulk_assign_to_me(base, cx_analyst, admin_user, client):
    services.case_open(customer=base["a"], user=admin_user)
    client.force_login(cx_analyst)
    response = post_bulk(client, "assign_to_me", [base["a"], base["b"]])
    assert messages_of(response) == [
        "1 case assigned to you.",
        "1 skipped (no case in progress): Bravo.",
    ]
    assert Case.objects.get(customer=base["a"]).assignee == cx_analyst


def test_bulk_snooze_until_a_date(base, cx_analyst, client):
    client.force_login(cx_analyst)
    until = timezone.localdate() + dt.timedelta(days=30)
    response = post_bulk(client, "snooze", [base["a"], base["c"]], until=until.isoformat())
    assert messages_of(response) == [f"5 flags of 2 customers snoozed until {until:%Y-%m-%d}."]
    assert set(
        CustomerFlag.objects.filter(customer__in=[base["a"], base["c"]]).values_list(
            "decision", "snoozed_until"
        )
    ) == {("snoozed", until)}
    assert names(cx_analyst) == ["Bravo", "Delta"]


def test_bulk_snooze_needs_a_date(base, cx_analyst, client):
    client.force_login(cx_analyst)
    response = post_bulk(client, "snooze", [base["a"]])
    assert messages_of(response) == ["Choose the date the flags come back."]
    response = post_bulk(client, "snooze", [base["a"]], until=timezone.localdate().isoformat())
    assert messages_of(response) == ["Snooze until a date in the future."]
    assert not CustomerFlag.objects.exclude(decision="").exists()


def test_bulk_accept(base, cx_analyst, client):
    client.force_login(cx_analyst)
    response = post_bulk(client, "accept", [base["b"], base["quiet"]])
    assert messages_of(response) == [
        "1 flag of 1 customer accepted.",
        "1 skipped (no open flag to decide): Echo (no flags).",
    ]
    assert base["b"].flags.get().decision == "accepted"
    assert "Bravo" in names(cx_analyst)  # accepted flags still need a case


def test_bulk_without_a_selection_says_so(base, cx_analyst, client):
    client.force_login(cx_analyst)
    response = post_bulk(client, "open_cases", [])
    assert messages_of(response) == ["Tick at least one customer."]


def test_bulk_ignores_ids_that_are_not_customers(base, cx_analyst, client):
    client.force_login(cx_analyst)
    response = client.post(BULK, {"action": "open_cases", "customers": ["999999", "x"]})
    assert response.status_code == 302
    assert not Case.objects.exists()


def test_the_page_offers_bulk_actions_only_to_workers(base, client, cx_analyst, executive):
    client.force_login(cx_analyst)
    page = client.get(WORKLIST).content.decode()
    assert 'data-testid="bulk-actions"' in page
    assert "js/worklist.js" in page
    assert "<script>" not in page  # no inline script
    client.force_login(executive)
    page = client.get(WORKLIST).content.decode()
    assert 'data-testid="bulk-actions"' not in page


def test_executives_see_what_awaits_their_approval(base, client, cx_analyst, executive):
    case = services.case_open(customer=base["a"], user=cx_analyst)
    services.case_start_review(case=case, user=cx_analyst)
    services.case_decide(case=case, decision="let_go", rationale="Losses.", user=cx_analyst)
    client.force_login(executive)
    page = client.get(WORKLIST).content.decode()
    assert "1 let-go awaiting your approval" in page


# --- speed --------------------------------------------------------------------------------


def page_queries(client, path=WORKLIST) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return len(ctx.captured_queries)


def test_the_query_count_is_pinned_and_does_not_grow_with_the_rows(run, client, cx_analyst):
    for i in range(3):
        c = flagged(run, f"First {i}", "at_risk", "unprofitable")
        services.case_open(customer=c, user=cx_analyst, assignee=cx_analyst)
    client.force_login(cx_analyst)
    client.get(WORKLIST)  # warm the session and the cache
    # session, user, personas, the current run (filter + header), where the tables
    # stand (the count is cached), the page, its flags, its cases with their assignees,
    # where the tables stand again (the segments are cached), account managers
    assert page_queries(client) == 11
    for i in range(30):
        c = flagged(run, f"More {i}", "at_risk", "costly_to_serve", "failed_by_us",
                    account_manager=cx_analyst)  # fmt: skip
        services.case_open(customer=c, user=cx_analyst, assignee=cx_analyst)
    # the tables changed: the count (flagged customers, then those only a case puts on
    # the list), the number of customers and the segments are read again, once
    assert page_queries(client) == 15
    assert page_queries(client) == 11
    sorted_by_flags = WORKLIST + "?case=open&flag=at_risk&sort=-flags&hidden=1"
    # no index for this sort: the whole order as ids (which gives the count), the page
    # by its ids; then the order is cached
    assert page_queries(client, sorted_by_flags) == 12
    assert page_queries(client, sorted_by_flags) == 11


def test_without_a_run_the_worklist_still_answers(db, client, cx_analyst):
    c = CustomerFactory(name="Unscored")
    CustomerFlag.objects.create(customer=c, kind="at_risk")
    client.force_login(cx_analyst)
    response = client.get(WORKLIST + "?sort=-clv")
    assert response.status_code == 200
    assert "Figures appear after the first economics run." in response.content.decode()
    assert [x.name for x in response.context["page"]] == ["Unscored"]
    assert Customer.objects.count() == 1
