"""The CX home's worklist headline, and the worklist on flags raised by a real run."""

import pytest
from django.urls import reverse

from cx import selectors, services
from cx.models import Case
from economics import services as economics_services
from economics.models import CustomerFlag
from tests.cx.conftest import flagged
from tests.economics.conftest import AS_OF, build_base
from tests.factories import SupportTicketFactory

pytestmark = pytest.mark.django_db


def test_the_cx_home_shows_the_worklist_headline_above_the_complaints(
    client, run, cx_analyst, executive
):
    a = flagged(run, "Alpha", "unprofitable", "at_risk")
    flagged(run, "Bravo", "at_risk")
    SupportTicketFactory(customer=a, is_complaint=True, subject="Late delivery")
    case = services.case_open(customer=a, user=cx_analyst)
    services.case_start_review(case=case, user=cx_analyst)
    services.case_decide(case=case, decision="let_go", rationale="Losses.", user=cx_analyst)
    client.force_login(cx_analyst)
    response = client.get(reverse("home"))
    page = response.content.decode()
    headline = response.context["worklist"]
    assert headline["customers"] == 2
    assert headline["flag_total"] == 3
    assert {k: n for k, _, n in headline["flags"]}["at_risk"] == 2
    assert {s: n for s, _, n in headline["cases"]} == {
        "open": 0,
        "under_review": 0,
        "decided": 1,
    }
    assert headline["awaiting_approval"] == 1
    assert page.index('data-testid="worklist-headline"') < page.index("Late delivery")
    assert reverse("cx:worklist") + "?flag=at_risk" in page


def test_the_worklist_on_a_real_economics_run(client, cx_analyst):
    build_base(n=300)
    run = economics_services.run_request(as_of=AS_OF, enqueue=False)
    economics_services.run_execute(run.pk)
    flagged_ids = set(
        CustomerFlag.objects.filter(status="open").values_list("customer_id", flat=True)
    )
    assert flagged_ids, "the simulated base raises flags"
    on_list = selectors.worklist(user=cx_analyst)
    assert {c.pk for c in on_list} == flagged_ids
    worst = on_list[0]
    assert worst.current_clv == min(c.current_clv for c in on_list)
    assert worst.flag_count == len(worst.open_flags) > 0

    client.force_login(cx_analyst)
    page = client.get(reverse("cx:worklist")).content.decode()
    assert worst.open_flags[0].detail in page

    result = services.cases_open(customers=list(on_list[:2]), user=cx_analyst)
    assert len(result.done) == 2
    case = Case.objects.get(customer=worst)
    assert set(case.flags.values_list("pk", flat=True)) == {f.pk for f in worst.open_flags}
    # a second run keeps the flags open and the case's links to them
    again = economics_services.run_request(as_of=AS_OF, enqueue=False)
    economics_services.run_execute(again.pk)
    assert case.flags.filter(status="open").count() == len(worst.open_flags)
