"""The production stack: docker-compose.yml, .env.example and the Dockerfile agree with
each other and with config.settings.production, which refuses to start without real
secrets. No database, no broker and no Docker engine are needed."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"

REQUIRED_SERVICES = {"postgres", "redis", "web", "worker", "beat"}
APP_SERVICES = ("web", "worker", "beat")
# Variables compose must refuse to start without.
SECRETS = ("SECRET_KEY", "POSTGRES_PASSWORD")


@pytest.fixture(scope="module")
def compose_text() -> str:
    return COMPOSE_FILE.read_text()


@pytest.fixture(scope="module")
def services(compose_text: str) -> dict:
    return yaml.safe_load(compose_text)["services"]


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def depends_on(service: dict) -> dict[str, str]:
    deps = service.get("depends_on", {})
    if isinstance(deps, list):
        return dict.fromkeys(deps, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in deps.items()}


def command_of(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


# --- docker-compose.yml -----------------------------------------------------------------


def test_all_services_exist(services):
    assert set(services) >= REQUIRED_SERVICES


def test_postgres_and_redis_have_healthchecks(services):
    postgres = " ".join(services["postgres"]["healthcheck"]["test"])
    redis = " ".join(services["redis"]["healthcheck"]["test"])
    assert "pg_isready" in postgres
    assert "redis-cli" in redis
    assert "ping" in redis
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")


def test_postgres_keeps_its_data_in_a_volume(services, compose_text):
    volumes = services["postgres"]["volumes"]
    assert any(v.endswith(":/var/lib/postgresql/data") for v in volumes)
    named = volumes[0].split(":", 1)[0]
    assert named in yaml.safe_load(compose_text)["volumes"]


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_wait_for_healthy_postgres_and_redis(services, name):
    deps = depends_on(services[name])
    assert deps.get("postgres") == "service_healthy"
    assert deps.get("redis") == "service_healthy"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_start_after_migrations(services, name):
    """Migrations run once, in a one-shot service, before anything uses the schema."""
    assert depends_on(services[name]).get("migrate") == "service_completed_successfully"
    migrate = services["migrate"]
    assert "manage.py migrate" in command_of(migrate)
    assert str(migrate.get("restart", "no")) == "no"
    assert depends_on(migrate) == {"postgres": "service_healthy", "redis": "service_healthy"}


@pytest.mark.parametrize("name", [*APP_SERVICES, "migrate"])
def test_app_services_are_configured_from_the_environment(services, name):
    env = env_of(services[name])
    assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    assert re.fullmatch(
        r"postgres://tango:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:5432/tango",
        env["DATABASE_URL"],
    )
    assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", env["SECRET_KEY"])
    assert env["ALLOWED_HOSTS"].startswith("${ALLOWED_HOSTS")
    assert env["SECURE_SSL_REDIRECT"] == "${SECURE_SSL_REDIRECT:-true}"
    assert services[name]["build"] == "."


def test_postgres_password_is_required(services):
    password = env_of(services["postgres"])["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]+\}", password)


@pytest.mark.parametrize("secret", SECRETS)
def test_every_use_of_a_secret_is_required(compose_text, secret):
    """No `${SECRET_KEY}` or `${SECRET_KEY:-default}` anywhere: only the `:?` form."""
    uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", compose_text)
    assert uses
    assert all(use.startswith(":?") and len(use) > 2 for use in uses), uses


def test_web_publishes_8000_and_checks_healthz(services):
    web = services["web"]
    assert any(str(port).endswith(":8000") for port in web["ports"])
    test = web["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    script = test[3]
    assert "urllib.request" in script
    assert "http://localhost:8000/healthz" in script
    # Behind SECURE_SSL_REDIRECT the check must look like a request from the TLS proxy.
    assert "X-Forwarded-Proto" in script
    compile(script, "web-healthcheck", "exec")


def test_worker_and_beat_commands(services):
    worker = command_of(services["worker"])
    beat = command_of(services["beat"])
    assert worker.startswith("celery -A config worker -l info")
    assert beat.startswith("celery -A config beat -l info")
    schedule = re.search(r"--schedule[= ](\S+)", beat)
    assert schedule
    assert schedule.group(1).startswith("/app/var/run/")
    assert "healthcheck" in services["worker"]


def test_every_compose_variable_is_documented_in_env_example(compose_text):
    used = set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", compose_text))
    documented = set(re.findall(r"^([A-Z_][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.M))
    assert used - documented == set()
    expected = {
        "SECRET_KEY",
        "POSTGRES_PASSWORD",
        "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS",
        "SECURE_SSL_REDIRECT",
        "GUNICORN_WORKERS",
        "TANGO_CURRENCY",
        "TIME_ZONE",
        "LOG_LEVEL",
        "CONN_MAX_AGE",
    }
    assert expected <= documented


def test_env_example_holds_no_usable_secret():
    values = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M))
    # Empty: compose's `:?` refuses it.
    assert values["POSTGRES_PASSWORD"] == ""
    # The production settings refuse the placeholder (see the subprocess tests below).
    assert values["SECRET_KEY"].startswith("change-me")


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile_shape():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim\b", text, re.M)
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user
    assert user[-1] not in {"root", "0"}
    assert re.search(r"pip install --no-cache-dir ", text)
    assert "DJANGO_SETTINGS_MODULE=config.settings.production" in text
    assert "collectstatic --noinput" in text
    assert re.search(r"^EXPOSE 8000$", text, re.M)
    cmd = re.search(r"^CMD (.*)$", text, re.M).group(1)
    assert "gunicorn config.wsgi:application" in cmd
    assert "--bind 0.0.0.0:8000" in cmd
    assert "${GUNICORN_WORKERS:-3}" in cmd


def test_dockerignore_keeps_secrets_and_local_state_out():
    lines = set((ROOT / ".dockerignore").read_text().splitlines())
    assert {".env", ".git", ".venv", "var"} <= lines


# --- config.settings.production -----------------------------------------------------------

# Everything the settings read that could leak in from the developer's shell or CI.
STRIPPED = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
)

SETUP = (
    "import django; django.setup(); from django.conf import settings; "
    "print('DEBUG', settings.DEBUG); print('SSL_REDIRECT', settings.SECURE_SSL_REDIRECT); "
    "print('HOSTS', ','.join(settings.ALLOWED_HOSTS))"
)


def run_production_setup(**env: str) -> subprocess.CompletedProcess[str]:
    child_env = {key: value for key, value in os.environ.items() if key not in STRIPPED}
    child_env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    child_env.update(env)
    return subprocess.run(  # noqa: S603 — fixed argv, our own interpreter
        [sys.executable, "-c", SETUP],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def real_key() -> str:
    key = secrets.token_urlsafe(48)
    assert len(key) == 64
    return key


def assert_refused(result: subprocess.CompletedProcess[str], *, mentions: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert mentions in result.stderr


def test_production_refuses_to_start_without_secret_key():
    assert_refused(run_production_setup(ALLOWED_HOSTS="example.com"), mentions="SECRET_KEY")


@pytest.mark.parametrize(
    "key",
    [
        "short-key",
        "x" * 64,  # long enough but not random
        "change-me-" + "a1b2c3d4e5" * 6,  # the .env.example placeholder pattern
    ],
)
def test_production_refuses_a_weak_secret_key(key):
    result = run_production_setup(SECRET_KEY=key, ALLOWED_HOSTS="example.com")
    assert_refused(result, mentions="SECRET_KEY")


def test_production_refuses_the_env_example_placeholder():
    values = dict(re.findall(r"^([A-Z_][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.M))
    result = run_production_setup(SECRET_KEY=values["SECRET_KEY"], ALLOWED_HOSTS="example.com")
    assert_refused(result, mentions="SECRET_KEY")


def test_production_refuses_to_start_without_allowed_hosts():
    assert_refused(run_production_setup(SECRET_KEY=real_key()), mentions="ALLOWED_HOSTS")


def test_production_starts_with_a_real_key_and_allowed_hosts():
    result = run_production_setup(SECRET_KEY=real_key(), ALLOWED_HOSTS="tango.example.com")
    assert result.returncode == 0, result.stderr
    assert "DEBUG False" in result.stdout
    assert "SSL_REDIRECT True" in result.stdout
    assert "HOSTS tango.example.com" in result.stdout


def test_production_allows_plain_http_for_a_local_stack():
    result = run_production_setup(
        SECRET_KEY=real_key(), ALLOWED_HOSTS="localhost", SECURE_SSL_REDIRECT="false"
    )
    assert result.returncode == 0, result.stderr
    assert "SSL_REDIRECT False" in result.stdout


def test_production_refuses_a_garbled_boolean():
    result = run_production_setup(
        SECRET_KEY=real_key(), ALLOWED_HOSTS="localhost", SECURE_SSL_REDIRECT="maybe"
    )
    assert_refused(result, mentions="SECURE_SSL_REDIRECT")


def test_the_deploy_checklist_passes_with_production_settings():
    """`manage.py check --deploy --fail-level WARNING`: HSTS, secure cookies, SSL
    redirect, a real secret key… all set."""
    # Without the browser tests' permission to run async-unsafe code: the deploy check
    # rightly reports it (async.E001).
    stripped = {*STRIPPED, "DJANGO_ALLOW_ASYNC_UNSAFE"}
    child_env = {key: value for key, value in os.environ.items() if key not in stripped}
    child_env.update(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        SECRET_KEY=real_key(),
        ALLOWED_HOSTS="tango.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=child_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
