from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from accounts.personas import Persona
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def account_manager(db):
    return UserFactory(username="am", persona=Persona.ACCOUNT_MANAGER)


@pytest.fixture
def other_account_manager(db):
    return UserFactory(username="am2", persona=Persona.ACCOUNT_MANAGER)


@pytest.fixture
def executive(db):
    return UserFactory(username="exec", persona=Persona.EXECUTIVE)


@pytest.fixture
def cx_analyst(db):
    return UserFactory(username="cx", persona=Persona.CX)


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", persona=Persona.ADMIN)


@pytest.fixture
def integrator(db):
    return UserFactory(username="integrator", persona=Persona.INTEGRATOR)


def _database_url_for_worker() -> str:
    """The URL of the test database, so a worker process writes where the tests read."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    user = s.get("USER") or ""
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker on the configured broker, or None when tasks run eagerly."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        yield None
        return
    from config.celery import app

    app.control.purge()
    name = f"tango-test-{uuid.uuid4().hex[:8]}@localhost"
    env = {
        **os.environ,
        "DATABASE_URL": _database_url_for_worker(),
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
    }
    log_path = ROOT / "var" / "test-worker.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("w") as log:
        proc = subprocess.Popen(  # noqa: S603 — our own interpreter and arguments
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
             "-l", "INFO", "-n", name, "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    pytest.fail(f"Celery worker exited: {log_path.read_text()[-3000:]}")
                if app.control.ping(destination=[name], timeout=1.0):
                    break
            else:
                pytest.fail(f"Celery worker did not answer: {log_path.read_text()[-3000:]}")
            yield name
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture
def eager_tasks():
    """Run Celery tasks in-process for this test, whatever broker is configured: for
    tests whose data (an upload in in-memory storage, rows in the test's transaction)
    a worker in another process cannot see."""
    from config.celery import app

    saved = (app.conf.task_always_eager, app.conf.task_eager_propagates)
    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield
    app.conf.task_always_eager, app.conf.task_eager_propagates = saved


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache: ids repeat across rolled-back tests."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
