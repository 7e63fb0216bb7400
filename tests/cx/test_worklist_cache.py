"""The worklist's count, its order for the sorts no index serves, and the CX home's
headline are cached until the customers, flags or cases change: a database trigger
renews a stamp for the table on every write, whoever makes it (a service, an import's
plain SQL, a run's flag sync, the admin). A stale count is never served."""

import datetime as dt
import threading

import pytest
import time_machine
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.db.models.signals import post_migrate
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer
from cx import selectors, services, triggers
from cx.filters import WorklistFilter
from cx.models import Case, WorklistChange
from economics.models import CustomerFlag
from tests.cx.conftest import flagged
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def worklist(user, **params) -> selectors.Worklist:
    q = QueryDict(mutable=True)
    q.update(params)
    return selectors.worklist(user=user, filters=WorklistFilter.from_query(q))


def count(user, **params) -> int:
    return worklist(user, **params).count()


def names(user, **params) -> list[str]:
    return [c.name for c in worklist(user, **params)]


@pytest.fixture
def base(run):
    """Three flagged customers (two in Enterprise), one without flags."""
    return {
        "a": flagged(run, "Alpha", "unprofitable", "at_risk", clv="-900", segment="Enterprise"),
        "b": flagged(run, "Bravo", "costly_to_serve", clv="-50", segment="Enterprise"),
        "c": flagged(run, "Charlie", "at_risk", "failed_by_us", "inherently_unhappy", clv="400"),
        "quiet": flagged(run, "Echo (no flags)", clv="5000"),
    }


# --- read once, then from the cache ----------------------------------------------------


def test_the_count_is_read_once_then_served_from_the_cache(base, cx_analyst):
    with CaptureQueriesContext(connection) as first:
        assert count(cx_analyst) == 3
    with CaptureQueriesContext(connection) as again:
        assert count(cx_analyst) == 3
    # who may see what, the current run, where the tables stand, the flagged customers,
    # those only a case puts on the list; then the run and where the tables stand
    assert len(first) == 5
    assert len(again) == 2
    assert count(cx_analyst, segment="Enterprise") == 2  # each filter its own count


def test_the_order_of_a_sort_without_an_index_is_read_once(base, cx_analyst):
    assert names(cx_analyst, sort="-flags") == ["Charlie", "Alpha", "Bravo"]
    with CaptureQueriesContext(connection) as again:
        assert names(cx_analyst, sort="-flags") == ["Charlie", "Alpha", "Bravo"]
    # the current run, where the tables stand, the rows by id, their flags, their cases
    assert len(again) == 5


def test_without_a_trigger_to_keep_the_version_nothing_is_cached(base, cx_analyst, monkeypatch):
    monkeypatch.setattr(triggers, "SUPPORTED", ())
    assert selectors.worklist_version() is None
    assert count(cx_analyst) == 3
    with CaptureQueriesContext(connection) as again:
        assert count(cx_analyst) == 3
    assert len(again) == 3  # the current run, both counts


# --- every change moves it -------------------------------------------------------------


def test_a_snooze_decided_in_bulk_takes_the_customer_off_the_count(base, cx_analyst):
    assert count(cx_analyst) == 3
    services.customers_flags_decide(
        customers=[base["b"]],
        decision="snoozed",
        snoozed_until=timezone.localdate() + dt.timedelta(days=7),
        user=cx_analyst,
    )
    assert count(cx_analyst) == 2
    assert names(cx_analyst, sort="-flags") == ["Charlie", "Alpha"]


def test_a_dismissal_on_the_case_page_moves_the_count_of_its_kind(base, cx_analyst):
    assert count(cx_analyst, flag="at_risk") == 2
    case = services.case_open(customer=base["a"], user=cx_analyst)
    services.case_flag_decide(
        case=case,
        flag=base["a"].flags.get(kind="at_risk"),
        decision="dismissed",
        reason="Seasonal buyer.",
        user=cx_analyst,
    )
    assert count(cx_analyst, flag="at_risk") == 1


def test_opening_and_closing_a_case_moves_the_count(base, cx_analyst):
    assert count(cx_analyst) == 3
    case = services.case_open(customer=base["quiet"], user=cx_analyst)
    assert count(cx_analyst) == 4
    assert count(cx_analyst, case="open") == 1
    services.case_start_review(case=case, user=cx_analyst)
    assert count(cx_analyst, case="open") == 0
    assert count(cx_analyst, case="under_review") == 1
    services.case_decide(case=case, decision="keep", rationale="Fine.", user=cx_analyst)
    services.case_close(case=case, user=cx_analyst)
    assert count(cx_analyst) == 3


def test_a_customer_released_by_an_import_leaves_the_count(base, cx_analyst):
    assert count(cx_analyst) == 3
    # an import writes with its own SQL, no model is saved
    Customer.objects.filter(pk=base["b"].pk).update(
        status=Customer.Status.RELEASED, released_on=dt.date(2025, 1, 10)
    )
    assert count(cx_analyst) == 2


def test_a_customer_moved_to_another_segment_moves_the_filtered_count(base, cx_analyst):
    assert count(cx_analyst, segment="Enterprise") == 2
    assert selectors.worklist_choices()["segments"] == ["Enterprise", "Mid-market"]
    Customer.objects.filter(pk=base["b"].pk).update(segment="Public sector")
    assert count(cx_analyst, segment="Enterprise") == 1
    assert selectors.worklist_choices()["segments"] == ["Enterprise", "Mid-market", "Public sector"]


def test_flags_a_run_closes_with_plain_sql_leave_the_count(base, cx_analyst):
    assert count(cx_analyst) == 3
    with connection.cursor() as cursor:
        cursor.execute(  # safe: a constant statement, the values are parameters
            "UPDATE economics_customerflag SET status = %s, closed_at = %s WHERE customer_id = %s",
            ["closed", timezone.now(), base["a"].pk],
        )
    assert count(cx_analyst) == 2


def test_a_customer_deleted_leaves_the_count(base, cx_analyst):
    assert count(cx_analyst) == 3
    base["c"].delete()
    assert count(cx_analyst) == 2


def test_a_snoozed_flag_counts_again_on_its_date(run, cx_analyst):
    a = flagged(run, "Alpha", "at_risk")
    flagged(run, "Bravo", "at_risk")
    with time_machine.travel(dt.datetime(2025, 1, 15, 9, tzinfo=dt.UTC), tick=False):
        services.customers_flags_decide(
            customers=[a], decision="snoozed", snoozed_until=dt.date(2025, 2, 1), user=cx_analyst
        )
        assert count(cx_analyst) == 1
    with time_machine.travel(dt.datetime(2025, 2, 1, 0, 30, tzinfo=dt.UTC), tick=False):
        assert count(cx_analyst) == 2


def test_a_deep_page_follows_the_changes(base, cx_analyst, monkeypatch):
    monkeypatch.setattr(selectors.Worklist, "WALK_ROWS", 0)
    assert names(cx_analyst) == ["Alpha", "Bravo", "Charlie"]
    services.case_open(customer=base["quiet"], user=cx_analyst)
    assert names(cx_analyst) == ["Alpha", "Bravo", "Charlie", "Echo (no flags)"]


def test_the_page_shows_the_count_after_a_bulk_action(base, cx_analyst, client):
    client.force_login(cx_analyst)
    worklist_url = reverse("cx:worklist")
    assert client.get(worklist_url).context["page"].paginator.count == 3
    until = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
    response = client.post(
        reverse("cx:worklist_bulk"),
        {"action": "snooze", "customers": [base["a"].pk], "until": until},
        follow=True,
    )
    assert response.context["page"].paginator.count == 2
    assert "2 customers to look at" in response.content.decode()


def test_the_headline_is_cached_and_follows_the_changes(base, cx_analyst):
    headline = selectors.worklist_headline(user=cx_analyst)
    assert (headline["customers"], headline["flag_total"]) == (3, 6)
    services.customers_flags_decide(customers=[base["c"]], decision="accepted", user=cx_analyst)
    assert selectors.worklist_headline(user=cx_analyst)["flag_total"] == 6  # still waiting
    CustomerFlag.objects.filter(customer=base["c"], kind="at_risk").update(
        decision="dismissed", decision_reason="Seasonal buyer."
    )
    headline = selectors.worklist_headline(user=cx_analyst)
    assert (headline["customers"], headline["flag_total"]) == (3, 5)
    assert {k: n for k, _, n in headline["flags"]}["at_risk"] == 1


# --- the stamps ------------------------------------------------------------------------


def stamps() -> dict[str, tuple[int, int, int]]:
    """Per table: the changes recorded, the last record, the sum of the stamps."""
    return {source: rest for source, *rest in selectors.worklist_version()}


def test_the_migration_starts_a_row_for_each_table(db):
    assert set(stamps()) == set(triggers.WATCHED)


def _insert_customer():
    CustomerFactory(name="New")


def _update_customers():
    Customer.objects.update(industry="Logistics")


def _delete_flags():
    CustomerFlag.objects.all().delete()


def _bulk_create_flags():
    c = CustomerFactory()
    CustomerFlag.objects.bulk_create([CustomerFlag(customer=c, kind="at_risk")])


def _save_a_case():
    customer = Customer.objects.first()
    Case.objects.create(customer=customer)


@pytest.mark.parametrize(
    ("write", "table"),
    [
        (_insert_customer, "customers_customer"),
        (_update_customers, "customers_customer"),
        (_delete_flags, "economics_customerflag"),
        (_bulk_create_flags, "economics_customerflag"),
        (_save_a_case, "cx_case"),
    ],
)
def test_every_write_renews_the_stamp_of_its_table(base, write, table):
    before = stamps()
    write()
    after = stamps()
    assert after[table][0] > before[table][0]
    assert after[table][2] != before[table][2]


def test_a_write_rolled_back_leaves_the_stamps_and_the_next_one_reads_as_new(base):
    before = stamps()
    with transaction.atomic():
        CustomerFactory(name="Gone")
        rolled_back = stamps()
        transaction.set_rollback(True)
    assert stamps() == before
    CustomerFactory(name="Kept")
    after = stamps()["customers_customer"]
    # the same number of changes as the write rolled back, yet another version
    assert after[0] == rolled_back["customers_customer"][0]
    assert after != rolled_back["customers_customer"]


def test_a_migration_that_drops_the_triggers_gets_them_back():
    expected = triggers.triggers_expected(connection.vendor)
    assert expected > 0
    assert triggers.triggers_present(connection) == expected
    triggers.triggers_drop(connection)  # as SQLite does when it rebuilds a table
    assert triggers.triggers_present(connection) == 0
    cx = django_apps.get_app_config("cx")
    post_migrate.send(
        sender=cx,
        app_config=cx,
        using=connection.alias,
        apps=django_apps,
        verbosity=0,
        interactive=False,
        plan=[],
    )
    assert triggers.triggers_present(connection) == expected


def test_the_record_of_changes_stays_small(base):
    statements = 2 * triggers.PRUNE_EVERY + 1
    for i in range(statements):
        Customer.objects.filter(pk=base["a"].pk).update(industry=f"Industry {i}")
    # PostgreSQL prunes as it goes; SQLite keeps one row a table
    assert WorklistChange.objects.count() < statements
    assert stamps()["customers_customer"][0] >= 1


@pytest.mark.django_db(transaction=True)
def test_two_writers_of_one_table_do_not_wait_for_each_other():
    a, b = CustomerFactory(name="A"), CustomerFactory(name="B")
    if connection.vendor == "sqlite":  # one writer at a time: a row a table, renewed
        assert WorklistChange.objects.filter(source="customers_customer").count() == 1
        return
    failures = []

    def other_writer():
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")  # safe: a constant
                Customer.objects.filter(pk=b.pk).update(industry="Retail")
        except Exception as error:
            failures.append(error)
        finally:
            connection.close()

    with transaction.atomic():
        Customer.objects.filter(pk=a.pk).update(industry="Logistics")  # open, not committed
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert failures == []
    assert Customer.objects.get(pk=b.pk).industry == "Retail"
