import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ValidationError

from roles import selectors, services
from roles.models import Charter, CharterEvent, RoleBlueprint
from tests.factories import (
    CommitmentFactory,
    CustomerFactory,
    LifecycleExpectationFactory,
    RoleBlueprintFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def blueprint():
    bp = RoleBlueprintFactory(name="Growth account", annual_value=Decimal("20000"))
    LifecycleExpectationFactory(blueprint=bp, metric="repeat_purchases_per_year", target=4)
    CommitmentFactory(blueprint=bp, title="Manager", metric="", target=None,
                      yearly_cost=Decimal("5000"))  # fmt: skip
    return bp


def agree(charter, user, day=dt.date(2024, 3, 1)):
    services.charter_propose(charter=charter, user=user)
    return services.charter_agree(charter=charter, agreed_on=day, agreed_by="Jane Buyer", user=user)


def test_a_charter_goes_from_draft_to_agreed_with_its_history(blueprint, account_manager):
    customer = CustomerFactory(account_manager=account_manager)
    charter = services.charter_create(customer=customer, blueprint=blueprint, user=account_manager)
    assert charter.status == Charter.Status.DRAFT
    agree(charter, account_manager)
    charter.refresh_from_db()
    assert charter.status == Charter.Status.AGREED
    assert charter.agreed_by == "Jane Buyer"
    actions = list(charter.events.order_by("at", "pk").values_list("action", "by__username"))
    assert actions == [("created", "am"), ("proposed", "am"), ("agreed", "am")]


def test_agreeing_a_new_version_supersedes_the_old(blueprint, account_manager):
    customer = CustomerFactory()
    first = services.charter_create(customer=customer, blueprint=blueprint, user=account_manager)
    agree(first, account_manager)
    second = services.charter_new_version(charter=first, user=account_manager)
    assert second.version == 2
    first.refresh_from_db()
    assert first.status == Charter.Status.AGREED  # still in force until v2 is agreed
    agree(second, account_manager)
    first.refresh_from_db()
    assert first.status == Charter.Status.SUPERSEDED
    assert Charter.objects.filter(customer=customer, status="agreed").get() == second
    assert CharterEvent.objects.filter(charter=first, action="superseded").exists()


def test_a_second_charter_in_the_making_is_refused(blueprint, account_manager):
    customer = CustomerFactory(name="Acme")
    services.charter_create(customer=customer, blueprint=blueprint, user=account_manager)
    with pytest.raises(ValidationError, match="already has a charter"):
        services.charter_create(customer=customer, blueprint=blueprint, user=account_manager)


def test_a_retired_blueprint_cannot_be_assigned(blueprint, account_manager):
    services.blueprint_retire(blueprint=blueprint)
    with pytest.raises(ValidationError, match="retired"):
        services.charter_create(
            customer=CustomerFactory(), blueprint=blueprint, user=account_manager
        )


def test_only_a_proposed_charter_can_be_agreed(blueprint, account_manager):
    charter = services.charter_create(
        customer=CustomerFactory(), blueprint=blueprint, user=account_manager
    )
    with pytest.raises(ValidationError, match="must be proposed"):
        services.charter_agree(charter=charter, agreed_on=dt.date(2024, 1, 1), agreed_by="X",
                               user=account_manager)  # fmt: skip


@time_machine.travel(dt.datetime(2024, 6, 1, 12, tzinfo=dt.UTC))
def test_an_agreement_cannot_be_dated_in_the_future(blueprint, account_manager):
    charter = services.charter_create(
        customer=CustomerFactory(), blueprint=blueprint, user=account_manager
    )
    services.charter_propose(charter=charter, user=account_manager)
    with pytest.raises(ValidationError):
        services.charter_agree(charter=charter, agreed_on=dt.date(2024, 6, 2), agreed_by="X",
                               user=account_manager)  # fmt: skip


def test_overrides_apply_to_the_customer_only(blueprint, account_manager):
    charter = services.charter_create(
        customer=CustomerFactory(), blueprint=blueprint, user=account_manager
    )
    expectation = blueprint.expectations.get()
    commitment = blueprint.commitments.get()
    charter = services.charter_update_overrides(
        charter=charter,
        target_overrides={"annual_value": Decimal("25000"), "purchases_per_year": None},
        expectation_overrides={expectation.pk: {"target": Decimal("6"), "weight": None}},
        commitment_overrides={commitment.pk: {"yearly_cost": Decimal("0")}},
        user=account_manager,
    )
    items = selectors.effective_expectations(blueprint, charter)
    assert items[0].target == Decimal("6")
    assert items[0].overridden
    assert selectors.effective_expectations(blueprint)[0].target == Decimal("4")
    assert selectors.effective_targets(charter)["annual_value"] == "25000"
    assert selectors.commitments_yearly_cost(charter) == Decimal("0")


def test_leaving_an_item_out_needs_a_reason(blueprint, account_manager):
    charter = services.charter_create(
        customer=CustomerFactory(), blueprint=blueprint, user=account_manager
    )
    expectation = blueprint.expectations.get()
    with pytest.raises(ValidationError, match="Say why"):
        services.charter_update_overrides(
            charter=charter, target_overrides={},
            expectation_overrides={expectation.pk: {"excluded": True, "reason": ""}},
            commitment_overrides={}, user=account_manager,
        )  # fmt: skip


def test_only_a_draft_is_edited(blueprint, account_manager):
    charter = services.charter_create(
        customer=CustomerFactory(), blueprint=blueprint, user=account_manager
    )
    services.charter_propose(charter=charter, user=account_manager)
    with pytest.raises(ValidationError, match="must be draft"):
        services.charter_update_overrides(charter=charter, target_overrides={},
            expectation_overrides={}, commitment_overrides={}, user=account_manager)  # fmt: skip


def test_two_versions_compare_item_by_item(blueprint, account_manager):
    first = services.charter_create(
        customer=CustomerFactory(), blueprint=blueprint, user=account_manager
    )
    agree(first, account_manager)
    second = services.charter_new_version(charter=first, user=account_manager)
    second = services.charter_update_overrides(
        charter=second, target_overrides={"annual_value": Decimal("30000")},
        expectation_overrides={blueprint.expectations.get().pk: {"target": Decimal("5")}},
        commitment_overrides={}, user=account_manager,
    )  # fmt: skip
    diff = selectors.compare_snapshots(
        selectors.charter_snapshot(first), selectors.charter_snapshot(second)
    )
    labels = {(d.section, d.label): (d.before, d.after) for d in diff}
    assert labels[("Targets", "annual value")] == ("20000", "30000")
    before, after = labels[("We ask of you", "Repeat purchase")]
    assert "≥ 4" in before and "≥ 5" in after


def test_assigning_many_skips_those_with_a_charter_in_the_making(blueprint, account_manager):
    busy = CustomerFactory(name="Busy")
    services.charter_create(customer=busy, blueprint=blueprint, user=account_manager)
    free = CustomerFactory.create_batch(3)
    made, skipped = services.charters_assign(
        customers=[busy, *free], blueprint=blueprint, user=account_manager
    )
    assert len(made) == 3
    assert [c.name for c, _ in skipped] == ["Busy"]


def test_duplicating_a_blueprint_copies_expectations_and_commitments(blueprint, account_manager):
    copy = services.blueprint_duplicate(blueprint=blueprint, user=account_manager)
    again = services.blueprint_duplicate(blueprint=blueprint, user=account_manager)
    assert copy.name == "Growth account (copy)"
    assert again.name == "Growth account (copy) 2"
    assert copy.expectations.count() == 1 and copy.commitments.count() == 1
    assert RoleBlueprint.objects.count() == 3


def test_share_links_open_until_revoked_or_expired(blueprint, account_manager):
    charter = services.charter_create(
        customer=CustomerFactory(), blueprint=blueprint, user=account_manager
    )
    link, token = services.share_link_create(charter=charter, user=account_manager, days=7)
    assert len(token) >= 40
    assert link.token_hash != token  # only the hash is stored
    assert services.share_link_open(token=token) == link
    assert services.share_link_open(token=token + "x") is None
    with time_machine.travel(link.expires_at + dt.timedelta(seconds=1)):
        assert services.share_link_open(token=token) is None
    services.share_link_revoke(link=link, user=account_manager)
    assert services.share_link_open(token=token) is None


def test_share_links_last_one_to_365_days(blueprint, account_manager):
    charter = services.charter_create(
        customer=CustomerFactory(), blueprint=blueprint, user=account_manager
    )
    with pytest.raises(ValidationError):
        services.share_link_create(charter=charter, user=account_manager, days=0)
