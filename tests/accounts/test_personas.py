import pytest
from django.contrib.auth.models import Group

from accounts.models import User
from accounts.personas import Persona, has_persona, primary_persona, sees_all_customers
from accounts.services import DEMO_LOGINS, DEMO_PASSWORD, demo_users_ensure
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_the_persona_groups_are_created_by_migration():
    assert set(Group.objects.values_list("name", flat=True)) >= {p.value for p in Persona}


def test_an_account_manager_sees_only_their_customers():
    user = UserFactory(persona=Persona.ACCOUNT_MANAGER)
    assert primary_persona(user) == Persona.ACCOUNT_MANAGER
    assert not sees_all_customers(user)


@pytest.mark.parametrize("persona", [Persona.EXECUTIVE, Persona.CX, Persona.ADMIN])
def test_readers_of_the_whole_base_see_every_customer(persona):
    assert sees_all_customers(UserFactory(persona=persona))


def test_an_inactive_user_has_no_persona():
    user = UserFactory(persona=Persona.EXECUTIVE, is_active=False)
    assert not has_persona(user, Persona.EXECUTIVE)
    assert primary_persona(user) is None


def test_demo_users_cover_every_persona_and_can_sign_in(client):
    demo_users_ensure()
    demo_users_ensure()  # twice: no duplicates
    assert User.objects.count() == len(DEMO_LOGINS)
    covered = {primary_persona(u) for u in User.objects.all()}
    assert covered == set(Persona)
    assert client.login(username="alice", password=DEMO_PASSWORD)


def test_demo_password_passes_the_password_validators():
    from django.contrib.auth.password_validation import validate_password

    validate_password(DEMO_PASSWORD)
