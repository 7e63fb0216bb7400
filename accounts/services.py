from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.db import transaction

from .models import User
from .personas import Persona

DEMO_PASSWORD = "tango-demo-password"  # noqa: S105  # nosec B105 # printed for the local demo only


@dataclass(frozen=True)
class DemoLogin:
    username: str
    first_name: str
    last_name: str
    persona: Persona


DEMO_LOGINS = [
    DemoLogin("admin", "Ada", "Admin", Persona.ADMIN),
    DemoLogin("exec", "Elena", "Executive", Persona.EXECUTIVE),
    DemoLogin("alice", "Alice", "Martin", Persona.ACCOUNT_MANAGER),
    DemoLogin("bob", "Bob", "Nguyen", Persona.ACCOUNT_MANAGER),
    DemoLogin("carol", "Carol", "Okafor", Persona.ACCOUNT_MANAGER),
    DemoLogin("cx", "Chris", "Xavier", Persona.CX),
    DemoLogin("integrator", "Ivan", "Feed", Persona.INTEGRATOR),
]


@transaction.atomic
def user_upsert_with_persona(
    *,
    username: str,
    persona: Persona,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
) -> User:
    """Create or update a user so that they belong to exactly the persona's group."""
    user, _ = User.objects.get_or_create(username=username)
    user.first_name = first_name
    user.last_name = last_name
    user.email = email or f"{username}@example.com"
    user.is_active = True
    user.is_staff = persona == Persona.ADMIN
    user.is_superuser = persona == Persona.ADMIN
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set([Group.objects.get_or_create(name=persona.value)[0]])
    return user


def demo_users_ensure(*, password: str = DEMO_PASSWORD) -> list[User]:
    """The demo logins, one or more per persona, all with the same password."""
    return [
        user_upsert_with_persona(
            username=login.username,
            persona=login.persona,
            password=password,
            first_name=login.first_name,
            last_name=login.last_name,
        )
        for login in DEMO_LOGINS
    ]
