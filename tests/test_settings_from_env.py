import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings.base import env_bool


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("Yes", True)])
def test_booleans_are_read_from_the_environment(monkeypatch, raw, expected):
    monkeypatch.setenv("TANGO_FLAG", raw)
    assert env_bool("TANGO_FLAG", not expected) is expected


def test_an_unset_boolean_takes_its_default(monkeypatch):
    monkeypatch.delenv("TANGO_FLAG", raising=False)
    assert env_bool("TANGO_FLAG", True) is True


def test_a_malformed_boolean_fails_loudly(monkeypatch):
    monkeypatch.setenv("TANGO_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="TANGO_FLAG"):
        env_bool("TANGO_FLAG", False)
