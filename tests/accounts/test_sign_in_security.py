"""Sign-in throttling, password rules, sessions and the security headers."""

import datetime as dt

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


@pytest.fixture
def throttled(settings):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3


def sign_in(client, username, password, ip="10.1.1.1"):
    return client.post(
        reverse("accounts:login"),
        {"username": username, "password": password},
        REMOTE_ADDR=ip,
    )


def test_repeated_failures_lock_that_username_from_that_address(client, throttled, executive):
    for _ in range(2):
        assert sign_in(client, "exec", "wrong").status_code == 200
    assert sign_in(client, "exec", "wrong").status_code == 429  # the third locks
    locked = sign_in(client, "exec", PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed attempts" in locked.content.decode()
    # The same username from elsewhere, and another user from here, still sign in.
    assert sign_in(client, "exec", PASSWORD, ip="10.9.9.9").status_code == 302


def test_the_lock_lifts_after_the_cool_off(client, throttled, executive, settings):
    with time_machine.travel(dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC), tick=False) as clock:
        for _ in range(3):
            sign_in(client, "exec", "wrong")
        assert sign_in(client, "exec", PASSWORD).status_code == 429
        clock.shift(settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1))
        assert sign_in(client, "exec", PASSWORD).status_code == 302


def test_passwords_need_twelve_characters():
    with pytest.raises(ValidationError):
        validate_password("Short1!x")
    validate_password("a-much-longer-passphrase")


def refusals(password: str, user=None) -> set[str]:
    """The codes of the validators that refuse ``password`` (empty: accepted)."""
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        return {error.code for error in exc.error_list}
    return set()


def test_a_password_like_the_users_name_or_email_is_refused():
    user = UserFactory(
        username="margaret.thornton", first_name="Margaret", last_name="Thornton",
        email="m.thornton@example.com",
    )  # fmt: skip
    other = UserFactory(username="someone.else", email="someone.else@example.com")
    assert refusals("margaret.thornton", user=user) == {"password_too_similar"}
    assert refusals("m.thornton@example.com", user=user) == {"password_too_similar"}
    # The same text is a fine password for someone it does not describe.
    assert refusals("margaret.thornton", user=other) == set()


def test_a_common_password_is_refused_even_when_long_enough():
    assert refusals("password1234") == {"password_too_common"}
    assert refusals("1q2w3e4r5t6y") == {"password_too_common"}
    assert refusals("lantern-mosaic-river") == set()


def test_an_all_numeric_password_is_refused():
    assert refusals("48291730564812") == {"password_entirely_numeric"}
    assert refusals("48291730564812x") == set()


def test_a_deactivated_user_is_signed_out_at_once(client, executive):
    client.force_login(executive)
    assert client.get(reverse("home")).status_code == 200
    executive.is_active = False
    executive.save(update_fields=["is_active"])
    response = client.get(reverse("home"))
    assert response.status_code == 302 and "/accounts/login/" in response.url


def test_session_cookie_is_http_only_same_site_and_short(client, executive, settings):
    sign_in(client, "exec", PASSWORD)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) == 8 * 60 * 60


def test_pages_carry_a_strict_content_security_policy(client, executive):
    client.force_login(executive)
    response = client.get(reverse("home"))
    policy = response["Content-Security-Policy"]
    script_src = next(p for p in policy.split(";") if p.strip().startswith("script-src"))
    assert "'self'" in script_src
    assert "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
