"""Test settings: fast hashing, eager tasks unless a broker is given, errors propagate."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-key-not-secret"  # noqa: S105  # nosec B105 # test settings, never deployed
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
ALLOWED_HOSTS = ["*"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL

if CELERY_BROKER_URL and DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # A worker in another process cannot see an in-memory database.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test.sqlite3")}  # noqa: F405

# Sign-in throttling is tested on purpose (tests/accounts/test_sign_in_security.py);
# elsewhere the test client signs in without a request, which django-axes refuses.
AXES_ENABLED = False
