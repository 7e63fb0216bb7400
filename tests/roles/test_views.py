"""The workspace pages as each persona: owners change, readers read, others get 404/403,
anonymous users are sent to sign in."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from roles import services
from roles.models import Charter, CharterShareLink, LifecycleStage, RoleBlueprint
from tests.factories import CustomerFactory, LifecycleExpectationFactory, RoleBlueprintFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def blueprint():
    bp = RoleBlueprintFactory(name="Growth account")
    LifecycleExpectationFactory(blueprint=bp)
    return bp


@pytest.fixture
def charter(blueprint, account_manager):
    customer = CustomerFactory(name="Northwind", account_manager=account_manager)
    return services.charter_create(customer=customer, blueprint=blueprint, user=account_manager)


def blueprint_post(name="Strategic partner", **overrides) -> dict:
    """A complete blueprint form as a browser sends it."""
    data = {
        "name": name,
        "description": "Our best",
        "annual_value": "30000",
        "purchases_per_year": "10",
        "purchase_value": "10000",
        "exp-TOTAL_FORMS": str(len(LifecycleStage)),
        "exp-INITIAL_FORMS": "0",
        "com-TOTAL_FORMS": "1",
        "com-INITIAL_FORMS": "0",
        "com-0-kind": "preferred",
        "com-0-title": "Dedicated manager",
        "com-0-metric": "dedicated_manager_assigned",
        "com-0-target": "1",
        "com-0-direction": "at_least",
        "com-0-weight": "1",
        "com-0-yearly_cost": "12000",
    }
    for i, stage in enumerate(LifecycleStage):
        data[f"exp-{i}-stage"] = stage.value
        data[f"exp-{i}-direction"] = "at_least"
        data[f"exp-{i}-weight"] = "1"
        if stage == LifecycleStage.AWARENESS:
            data[f"exp-{i}-excluded"] = "on"
            data[f"exp-{i}-exclusion_reason"] = "Marketing measures it"
        else:
            data[f"exp-{i}-metric"] = "purchases_per_year"
            data[f"exp-{i}-target"] = "4"
    data.update(overrides)
    return data


def test_anonymous_users_are_sent_to_sign_in(client, charter):
    for url in [
        reverse("roles:blueprint_list"),
        reverse("roles:blueprint_create"),
        reverse("roles:charter_detail", args=[charter.pk]),
    ]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response.url


def test_an_account_manager_creates_a_blueprint_with_all_eleven_stages(client, account_manager):
    client.force_login(account_manager)
    page = client.get(reverse("roles:blueprint_create"))
    assert page.status_code == 200
    assert len(page.context["expectations"].forms) == 11
    response = client.post(reverse("roles:blueprint_create"), blueprint_post())
    blueprint = RoleBlueprint.objects.get(name="Strategic partner")
    assert response.status_code == 302
    assert response.url == reverse("roles:blueprint_detail", args=[blueprint.pk])
    assert blueprint.expectations.count() == 11
    assert blueprint.expectations.get(stage="awareness").excluded
    assert blueprint.commitments.get().yearly_cost == Decimal("12000")


def test_a_blueprint_form_with_a_missing_reason_saves_nothing(client, account_manager):
    client.force_login(account_manager)
    data = blueprint_post(**{"exp-0-exclusion_reason": ""})
    response = client.post(reverse("roles:blueprint_create"), data)
    assert response.status_code == 200
    assert "Say why this is left out" in response.content.decode()
    assert not RoleBlueprint.objects.exists()


def test_editing_keeps_expectations_and_removes_a_deleted_commitment(client, account_manager):
    client.force_login(account_manager)
    client.post(reverse("roles:blueprint_create"), blueprint_post())
    blueprint = RoleBlueprint.objects.get()
    commitment = blueprint.commitments.get()
    data = blueprint_post(
        name="Strategic partner+",
        **{"com-0-id": str(commitment.pk), "com-0-DELETE": "on", "com-INITIAL_FORMS": "1"},
    )
    client.post(reverse("roles:blueprint_edit", args=[blueprint.pk]), data)
    blueprint.refresh_from_db()
    assert blueprint.name == "Strategic partner+"
    assert blueprint.expectations.count() == 11
    assert not blueprint.commitments.exists()


def test_the_live_check_says_when_a_role_is_a_loss_by_design(client, account_manager):
    client.force_login(account_manager)
    data = blueprint_post(annual_value="5000")
    response = client.post(reverse("roles:blueprint_check"), data)
    assert "loss by design" in response.content.decode()


@pytest.mark.parametrize("persona", ["executive", "cx_analyst"])
def test_readers_see_blueprints_but_cannot_change_them(client, request, persona, blueprint):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("roles:blueprint_list")).status_code == 200
    assert client.get(reverse("roles:blueprint_detail", args=[blueprint.pk])).status_code == 200
    assert client.get(reverse("roles:blueprint_create")).status_code == 403
    assert client.get(reverse("roles:blueprint_edit", args=[blueprint.pk])).status_code == 403
    assert client.post(reverse("roles:blueprint_duplicate", args=[blueprint.pk])).status_code == 403
    assert client.post(reverse("roles:blueprint_retire", args=[blueprint.pk])).status_code == 403


def test_integrators_do_not_use_the_workspace(client, integrator, blueprint):
    client.force_login(integrator)
    assert client.get(reverse("roles:blueprint_list")).status_code == 403


def test_duplicate_and_retire(client, account_manager, blueprint):
    client.force_login(account_manager)
    response = client.post(reverse("roles:blueprint_duplicate", args=[blueprint.pk]))
    copy = RoleBlueprint.objects.get(name="Growth account (copy)")
    assert response.url == reverse("roles:blueprint_edit", args=[copy.pk])
    client.post(reverse("roles:blueprint_retire", args=[blueprint.pk]))
    blueprint.refresh_from_db()
    assert blueprint.status == RoleBlueprint.Status.RETIRED


def test_the_owner_walks_a_charter_to_agreement(client, account_manager, charter):
    client.force_login(account_manager)
    url = reverse("roles:charter_transition", args=[charter.pk])
    client.post(url, {"action": "propose"})
    client.post(url, {"action": "agree", "agreed_on": "2024-05-01", "agreed_by": "Jane Buyer"})
    charter.refresh_from_db()
    assert charter.status == Charter.Status.AGREED
    assert charter.agreed_on == dt.date(2024, 5, 1)
    page = client.get(reverse("roles:charter_detail", args=[charter.pk])).content.decode()
    assert "Jane Buyer" in page


def test_agreeing_without_a_signatory_is_refused_with_a_message(client, account_manager, charter):
    client.force_login(account_manager)
    url = reverse("roles:charter_transition", args=[charter.pk])
    client.post(url, {"action": "propose"})
    response = client.post(url, {"action": "agree", "agreed_on": "2024-05-01"}, follow=True)
    charter.refresh_from_db()
    assert charter.status == Charter.Status.PROPOSED
    assert "This field is required" in response.content.decode()


def test_another_account_manager_gets_404(client, other_account_manager, charter):
    client.force_login(other_account_manager)
    assert client.get(reverse("roles:charter_detail", args=[charter.pk])).status_code == 404
    response = client.post(
        reverse("roles:charter_transition", args=[charter.pk]), {"action": "propose"}
    )
    assert response.status_code == 404
    assert client.get(reverse("roles:charter_edit", args=[charter.pk])).status_code == 404


@pytest.mark.parametrize("persona", ["executive", "cx_analyst"])
def test_readers_see_a_charter_but_cannot_change_it(client, request, persona, charter):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(reverse("roles:charter_detail", args=[charter.pk])).status_code == 200
    assert client.get(reverse("roles:charter_print", args=[charter.pk])).status_code == 200
    response = client.post(
        reverse("roles:charter_transition", args=[charter.pk]), {"action": "propose"}
    )
    assert response.status_code == 403
    assert client.get(reverse("roles:charter_edit", args=[charter.pk])).status_code == 403
    assert client.post(reverse("roles:share_link_create", args=[charter.pk])).status_code == 403


def test_adjusting_a_draft_for_one_customer(client, account_manager, charter, blueprint):
    client.force_login(account_manager)
    expectation = blueprint.expectations.get()
    data = {
        "annual_value": "42000",
        "notes": "Asked for fewer reviews",
        "exp-TOTAL_FORMS": "1",
        "exp-INITIAL_FORMS": "1",
        "exp-0-source_id": str(expectation.pk),
        "exp-0-target": "2",
        "com-TOTAL_FORMS": "0",
        "com-INITIAL_FORMS": "0",
    }
    response = client.post(reverse("roles:charter_edit", args=[charter.pk]), data)
    assert response.status_code == 302
    charter.refresh_from_db()
    assert charter.target_overrides == {"annual_value": "42000"}
    assert charter.expectation_overrides.get().target == Decimal("2")
    assert charter.notes == "Asked for fewer reviews"


def test_a_share_link_is_shown_once_and_opens_without_signing_in(client, account_manager, charter):
    client.force_login(account_manager)
    client.post(reverse("roles:share_link_create", args=[charter.pk]), {"days": "10"})
    page = client.get(reverse("roles:charter_detail", args=[charter.pk]))
    url = page.context["new_token"]
    assert "/roles/shared/" in url
    again = client.get(reverse("roles:charter_detail", args=[charter.pk]))
    assert again.context["new_token"] is None
    client.logout()
    shared = client.get(url)
    assert shared.status_code == 200
    assert "Our charter with Northwind" in shared.content.decode()
    assert shared["X-Robots-Tag"] == "noindex, nofollow"
    link = CharterShareLink.objects.get()
    client.force_login(account_manager)
    client.post(reverse("roles:share_link_revoke", args=[link.pk]))
    client.logout()
    assert client.get(url).status_code == 404


def test_assigning_a_blueprint_to_a_filtered_list(client, account_manager, blueprint):
    CustomerFactory.create_batch(3, account_manager=account_manager, segment="Enterprise")
    CustomerFactory(account_manager=account_manager, segment="Small business")
    CustomerFactory(segment="Enterprise")  # someone else's
    client.force_login(account_manager)
    response = client.post(
        reverse("roles:charter_assign_many"),
        {"assign-blueprint": blueprint.pk, "segment": "Enterprise"},
    )
    assert response.status_code == 302
    assert Charter.objects.count() == 3
    assert set(Charter.objects.values_list("customer__segment", flat=True)) == {"Enterprise"}


def test_the_customer_page_shows_the_mutual_scorecard(client, account_manager, charter):
    client.force_login(account_manager)
    response = client.get(reverse("customers:detail", args=[charter.customer_id]))
    scorecard = response.context["scorecard"]
    assert scorecard.charter == charter
    assert len(scorecard.customer_rows) == 1
    assert 'data-testid="role-fit-score"' in response.content.decode()


def test_comparing_versions(client, account_manager, charter):
    client.force_login(account_manager)
    services.charter_propose(charter=charter, user=account_manager)
    services.charter_agree(
        charter=charter, agreed_on=dt.date(2024, 1, 1), agreed_by="X", user=account_manager
    )
    second = services.charter_new_version(charter=charter, user=account_manager)
    services.charter_update_overrides(
        charter=second, target_overrides={"annual_value": "1"}, expectation_overrides={},
        commitment_overrides={}, user=account_manager,
    )  # fmt: skip
    response = client.get(reverse("roles:charter_compare", args=[second.pk]), {"a": 1, "b": 2})
    assert [d.label for d in response.context["differences"]] == ["annual value"]
