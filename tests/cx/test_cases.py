"""The case workflow: open → under review → decided (with a rationale) → done, the
let-go approval, the exit checklist, decisions on flags, and the history of it all."""

import datetime as dt

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from customers.models import Customer
from cx import services
from cx.models import Case, CaseEvent, ExitChecklistItem
from economics.models import CustomerFlag
from tests.cx.conftest import flagged
from tests.factories import InvoiceFactory, SupportTicketFactory

pytestmark = pytest.mark.django_db


def decided(customer, user, decision="keep", rationale="Worth it."):
    case = services.case_open(customer=customer, user=user)
    services.case_start_review(case=case, user=user)
    return services.case_decide(case=case, decision=decision, rationale=rationale, user=user)


def actions(case) -> list[str]:
    return list(case.events.order_by("at", "pk").values_list("action", flat=True))


def test_the_full_workflow_from_open_to_done(customer, cx_analyst):
    case = services.case_open(customer=customer, user=cx_analyst, note="Looks bad.")
    assert case.status == Case.Status.OPEN
    assert sorted(case.flags.values_list("kind", flat=True)) == ["at_risk", "unprofitable"]

    case = services.case_start_review(case=case, user=cx_analyst)
    assert case.status == Case.Status.UNDER_REVIEW
    assert case.assignee == cx_analyst  # who starts the review takes an unassigned case

    case = services.case_decide(
        case=case, decision="reprice", rationale="Margin too thin for the service.", user=cx_analyst
    )
    assert (case.status, case.decision, case.decided_by) == ("decided", "reprice", cx_analyst)
    assert case.approval == ""  # only a let-go needs approval

    case = services.case_close(case=case, user=cx_analyst)
    assert case.status == Case.Status.DONE
    assert case.closed_at is not None
    assert actions(case) == ["opened", "review_started", "decided", "closed"]
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE


def test_each_transition_is_kept_with_who_when_and_from_to(customer, cx_analyst):
    with time_machine.travel(dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC), tick=False):
        case = services.case_open(customer=customer, user=cx_analyst)
        services.case_start_review(case=case, user=cx_analyst, note="Starting with invoices.")
    event = case.events.get(action=CaseEvent.Action.REVIEW_STARTED)
    assert (event.by, event.from_status, event.to_status) == (cx_analyst, "open", "under_review")
    assert event.at == dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
    assert event.note == "Starting with invoices."
    assert case.events.get(action="opened").what == "For at risk, unprofitable"


def test_a_decision_needs_a_rationale(customer, cx_analyst):
    case = services.case_open(customer=customer, user=cx_analyst)
    services.case_start_review(case=case, user=cx_analyst)
    with pytest.raises(ValidationError, match="rationale"):
        services.case_decide(case=case, decision="keep", rationale="   ", user=cx_analyst)
    case.refresh_from_db()
    assert case.status == Case.Status.UNDER_REVIEW


def test_a_decided_case_without_rationale_is_refused_by_the_database(customer, cx_analyst):
    case = services.case_open(customer=customer, user=cx_analyst)
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(
            status="decided", decision="keep", decided_at=timezone.now(), rationale=""
        )


def test_decisions_follow_the_order_of_the_workflow(customer, cx_analyst):
    case = services.case_open(customer=customer, user=cx_analyst)
    with pytest.raises(ValidationError, match="must be under review"):
        services.case_decide(case=case, decision="keep", rationale="Fine.", user=cx_analyst)
    with pytest.raises(ValidationError, match="must be decided"):
        services.case_close(case=case, user=cx_analyst)
    with pytest.raises(ValidationError):
        services.case_start_review(case=services.case_start_review(case=case, user=cx_analyst),
                                   user=cx_analyst)  # fmt: skip


def test_a_customer_has_one_case_in_progress_at_a_time(customer, cx_analyst):
    case = services.case_open(customer=customer, user=cx_analyst)
    with pytest.raises(ValidationError, match="already has a case in progress"):
        services.case_open(customer=customer, user=cx_analyst)
    # the database says so too, whatever the code path
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.create(customer=customer)
    services.case_start_review(case=case, user=cx_analyst)
    services.case_decide(case=case, decision="keep", rationale="Fine.", user=cx_analyst)
    services.case_close(case=case, user=cx_analyst)
    again = services.case_open(customer=customer, user=cx_analyst)
    assert Case.objects.filter(customer=customer).count() == 2
    assert again.status == Case.Status.OPEN


def test_reopening_withdraws_the_decision_and_keeps_it_in_the_history(customer, cx_analyst):
    case = decided(customer, cx_analyst, "keep", "First thought.")
    case = services.case_reopen(case=case, user=cx_analyst, note="New complaints came in.")
    assert (case.status, case.decision, case.rationale) == ("under_review", "", "")
    decided_event = case.events.get(action="decided")
    assert decided_event.note == "First thought."
    assert case.events.get(action="reopened").note == "New complaints came in."


# --- letting go ---------------------------------------------------------------------------


def test_a_let_go_waits_for_an_executive(customer, cx_analyst):
    case = decided(customer, cx_analyst, "let_go", "Loses money on every order.")
    assert case.status == Case.Status.DECIDED
    assert case.approval == Case.Approval.PENDING
    assert case.awaits_approval
    with pytest.raises(ValidationError, match="only after an executive approved it"):
        services.case_close(case=case, user=cx_analyst)


def test_the_proposer_cannot_approve_their_own_let_go(customer, cx_executive):
    case = decided(customer, cx_executive, "let_go", "Loses money on every order.")
    with pytest.raises(PermissionDenied, match="other than the proposer"):
        services.case_approve_let_go(case=case, user=cx_executive)
    with pytest.raises(PermissionDenied):
        services.case_reject_let_go(case=case, user=cx_executive, reason="Changed my mind.")
    case.refresh_from_db()
    assert case.approval == Case.Approval.PENDING


def test_the_database_refuses_an_approval_by_the_proposer(customer, cx_executive):
    case = decided(customer, cx_executive, "let_go", "Loses money on every order.")
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(
            approval="approved", approved_by=cx_executive, approved_at=timezone.now()
        )


@pytest.mark.parametrize("who", ["cx_analyst", "admin_user", "account_manager"])
def test_only_an_executive_approves(request, customer, cx_analyst, who):
    case = decided(customer, cx_analyst, "let_go", "Loses money on every order.")
    with pytest.raises(PermissionDenied, match="Only an executive"):
        services.case_approve_let_go(case=case, user=request.getfixturevalue(who))


def test_approval_releases_the_customer_and_starts_the_exit_checklist(
    customer, cx_analyst, executive
):
    InvoiceFactory(customer=customer, paid_on=None)
    SupportTicketFactory(customer=customer, resolved_at=None)
    with time_machine.travel(dt.datetime(2025, 4, 10, 15, 0, tzinfo=dt.UTC)):
        case = decided(customer, cx_analyst, "let_go", "Loses money on every order.")
        case = services.case_approve_let_go(case=case, user=executive, note="Agreed.")
    customer.refresh_from_db()
    assert customer.status == Customer.Status.RELEASED
    assert customer.released_on == dt.date(2025, 4, 10)
    assert (case.approval, case.approved_by, case.status) == ("approved", executive, "decided")
    steps = list(case.checklist.values_list("step", "detail"))
    assert [s for s, _ in steps] == [
        "settle_invoices",
        "hand_over_tickets",
        "inform_account_manager",
        "end_charter",
        "export_history",
    ]
    assert dict(steps)["settle_invoices"] == "1 unpaid invoice"
    assert dict(steps)["hand_over_tickets"] == "1 unresolved ticket"
    assert actions(case)[-2:] == ["approved", "released"]


def test_a_let_go_is_done_once_every_exit_step_is_ticked(customer, cx_analyst, executive):
    case = decided(customer, cx_analyst, "let_go", "Loses money on every order.")
    case = services.case_approve_let_go(case=case, user=executive)
    items = list(case.checklist.all())
    for item in items[:-1]:
        services.checklist_item_tick(item=item, done=True, user=cx_analyst)
    with pytest.raises(ValidationError, match="1 exit checklist item still to do"):
        services.case_close(case=case, user=cx_analyst)
    last = services.checklist_item_tick(item=items[-1], done=True, user=cx_analyst)
    assert (last.done_by, last.done_at is not None) == (cx_analyst, True)
    # untick and tick again: both kept
    services.checklist_item_tick(item=items[-1], done=False, user=cx_analyst)
    services.checklist_item_tick(item=items[-1], done=True, user=cx_analyst)
    case = services.case_close(case=case, user=cx_analyst)
    assert case.status == Case.Status.DONE
    assert actions(case).count("checklist_ticked") == 6
    assert actions(case).count("checklist_unticked") == 1


def test_an_approved_let_go_cannot_be_withdrawn(customer, cx_analyst, executive):
    case = decided(customer, cx_analyst, "let_go", "Loses money on every order.")
    services.case_approve_let_go(case=case, user=executive)
    with pytest.raises(ValidationError, match="released"):
        services.case_reopen(case=case, user=cx_analyst)


def test_a_rejected_let_go_goes_back_to_review_with_the_reason(customer, cx_analyst, executive):
    case = decided(customer, cx_analyst, "let_go", "Loses money on every order.")
    with pytest.raises(ValidationError, match="Say why"):
        services.case_reject_let_go(case=case, user=executive, reason="")
    case = services.case_reject_let_go(
        case=case, user=executive, reason="They are our reference in the region."
    )
    assert (case.status, case.decision, case.approval) == ("under_review", "", "rejected")
    assert case.rejection_reason == "They are our reference in the region."
    customer.refresh_from_db()
    assert customer.status == Customer.Status.ACTIVE
    rejected = case.events.get(action="rejected")
    assert (rejected.by, rejected.from_status, rejected.to_status) == (
        executive,
        "decided",
        "under_review",
    )
    assert rejected.note == "They are our reference in the region."
    # the team decides again
    case = services.case_decide(
        case=case, decision="reprice", rationale="Raise the price instead.", user=cx_analyst
    )
    assert case.approval == Case.Approval.REJECTED
    assert services.case_close(case=case, user=cx_analyst).status == Case.Status.DONE


def test_a_second_executive_approves_what_an_executive_proposed(
    customer, cx_executive, second_executive
):
    case = decided(customer, cx_executive, "let_go", "Loses money on every order.")
    case = services.case_approve_let_go(case=case, user=second_executive)
    assert case.approved_by == second_executive


def test_nothing_else_than_the_cx_team_and_admins_work_cases(customer, executive, admin_user):
    with pytest.raises(PermissionDenied):
        services.case_open(customer=customer, user=executive)
    case = services.case_open(customer=customer, user=admin_user)
    assert case.opened_by == admin_user


def test_cases_go_to_someone_in_the_cx_team(customer, cx_analyst, account_manager):
    case = services.case_open(customer=customer, user=cx_analyst)
    with pytest.raises(ValidationError, match="CX team"):
        services.case_assign(case=case, assignee=account_manager, user=cx_analyst)
    case = services.case_assign(case=case, assignee=cx_analyst, user=cx_analyst)
    assert case.assignee == cx_analyst
    assert case.events.filter(action="assigned").count() == 1


# --- flags ------------------------------------------------------------------------------


def test_flag_decisions_from_the_case_are_kept_on_the_flag_and_in_the_history(customer, cx_analyst):
    case = services.case_open(customer=customer, user=cx_analyst)
    flag = customer.flags.get(kind="at_risk")
    with time_machine.travel(dt.datetime(2025, 1, 15, 12, tzinfo=dt.UTC), tick=False):
        services.case_flag_decide(
            case=case,
            flag=flag,
            decision="snoozed",
            snoozed_until=dt.date(2025, 3, 1),
            user=cx_analyst,
        )
    flag.refresh_from_db()
    assert (flag.decision, flag.snoozed_until, flag.decided_by) == (
        "snoozed",
        dt.date(2025, 3, 1),
        cx_analyst,
    )
    event = case.events.get(action="flag_decided")
    assert event.what == "At risk: snoozed until 2025-03-01"

    dismissed = services.case_flag_decide(
        case=case,
        flag=customer.flags.get(kind="unprofitable"),
        decision="dismissed",
        reason="One-off write-off.",
        user=cx_analyst,
    )
    assert dismissed.decision_reason == "One-off write-off."
    assert case.events.filter(action="flag_decided").last().note == "One-off write-off."


def test_a_flag_of_another_customer_is_refused(run, customer, cx_analyst):
    other = flagged(run, "Other", "at_risk")
    case = services.case_open(customer=customer, user=cx_analyst)
    with pytest.raises(ValidationError, match="another customer"):
        services.case_flag_decide(
            case=case, flag=other.flags.get(), decision="accepted", user=cx_analyst
        )


def test_a_case_links_the_open_flags_but_not_dismissed_ones(run, cx_analyst):
    c = flagged(run, "Gamma", "unprofitable", "at_risk")
    c.flags.filter(kind="at_risk").update(decision="dismissed", decision_reason="Seasonal.")
    c.flags.create(kind="failed_by_us", status="closed", closed_at=timezone.now())
    case = services.case_open(customer=c, user=cx_analyst)
    assert list(case.flags.values_list("kind", flat=True)) == ["unprofitable"]


# --- bulk ---------------------------------------------------------------------------------


def test_bulk_open_skips_customers_with_a_case_in_progress(run, cx_analyst):
    a, b = flagged(run, "A", "at_risk"), flagged(run, "B", "at_risk")
    services.case_open(customer=a, user=cx_analyst)
    result = services.cases_open(customers=[a, b], user=cx_analyst)
    assert result.done == [b]
    assert [(c, why) for c, why in result.skipped] == [(a, "a case is already in progress")]


def test_bulk_snooze_leaves_dismissals_alone_and_records_on_the_case(run, cx_analyst):
    a = flagged(run, "A", "at_risk", "unprofitable")
    a.flags.filter(kind="unprofitable").update(decision="dismissed", decision_reason="Known.")
    b = flagged(run, "B")  # no flag
    case = services.case_open(customer=a, user=cx_analyst)
    until = timezone.localdate() + dt.timedelta(days=10)
    result = services.customers_flags_decide(
        customers=[a, b], decision="snoozed", snoozed_until=until, user=cx_analyst
    )
    assert (result.done, result.flags) == ([a], 1)
    assert result.skipped == [(b, "no open flag to decide")]
    assert dict(a.flags.values_list("kind", "decision")) == {
        "at_risk": "snoozed",
        "unprofitable": "dismissed",
    }
    assert case.events.filter(action="flag_decided").get().what.startswith("At risk: snoozed")


def test_bulk_snooze_needs_a_date_in_the_future(run, cx_analyst):
    a = flagged(run, "A", "at_risk")
    with pytest.raises(ValidationError, match="future"):
        services.customers_flags_decide(
            customers=[a], decision="snoozed", snoozed_until=timezone.localdate(), user=cx_analyst
        )
    assert a.flags.get().decision == ""


def test_bulk_accept_skips_flags_already_accepted(run, cx_analyst):
    a = flagged(run, "A", "at_risk")
    first = services.customers_flags_decide(customers=[a], decision="accepted", user=cx_analyst)
    again = services.customers_flags_decide(customers=[a], decision="accepted", user=cx_analyst)
    assert (first.flags, again.flags, len(again.skipped)) == (1, 0, 1)
    assert a.flags.get().decision == CustomerFlag.Decision.ACCEPTED


def test_bulk_assign_takes_the_cases_in_progress(run, cx_analyst, admin_user):
    a, b = flagged(run, "A", "at_risk"), flagged(run, "B", "at_risk")
    services.case_open(customer=a, user=admin_user)
    result = services.cases_assign(customers=[a, b], assignee=cx_analyst, user=cx_analyst)
    assert result.done == [a]
    assert result.skipped == [(b, "no case in progress")]
    assert Case.objects.get(customer=a).assignee == cx_analyst


def test_checklist_steps_appear_once_per_case(customer, cx_analyst, executive):
    case = decided(customer, cx_analyst, "let_go", "Loses money on every order.")
    services.case_approve_let_go(case=case, user=executive)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExitChecklistItem.objects.create(case=case, step="settle_invoices")
