"""The load generator: a real server (gunicorn on the production settings) and users
who keep asking it for pages.

``gunicorn_serving`` collects the static files, starts gunicorn on a free local port
with ``config.settings.production``, waits until ``/healthz`` answers and stops it
afterwards. ``session_cookie`` signs a user in the way the server itself would (a
session row signed with the server's secret key), so no sign-in form is involved.
``load_run`` runs one thread per user, each asking for pages from the list in a random
order without pause, and records each request's latency and status.
"""

from __future__ import annotations

import http.client
import os
import random
import secrets
import socket
import subprocess  # nosec B404 # starts our own interpreter with fixed arguments
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import import_module
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.test.utils import override_settings

PRODUCTION_SETTINGS = "config.settings.production"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
START_TIMEOUT_S = 90.0
REQUEST_TIMEOUT_S = 60.0


class ServerError(Exception):
    """The server could not be started or did not answer."""


@dataclass(frozen=True)
class PageRequest:
    name: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks (what
    numpy's default gives): the median of 1, 2, 3, 4 is 2.5."""
    if not values:
        raise ValueError("No values to take a percentile of.")
    if not 0 <= q <= 100:
        raise ValueError(f"A percentile is between 0 and 100, not {q}.")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(milliseconds: Sequence[float]) -> dict:
    """Requests, p50 and p95 (ms, rounded to 0.1 ms) of a list of latencies."""
    if not milliseconds:
        return {"requests": 0, "p50_ms": None, "p95_ms": None, "max_ms": None}
    return {
        "requests": len(milliseconds),
        "p50_ms": round(percentile(milliseconds, 50), 1),
        "p95_ms": round(percentile(milliseconds, 95), 1),
        "max_ms": round(max(milliseconds), 1),
    }


# --- the server --------------------------------------------------------------------------


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def server_environment(
    *, database_url: str, secret_key: str, static_root: Path, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of a production-mode process on this machine: the given
    database, a throwaway secret key, local host names, plain HTTP allowed (requests say
    they came through a TLS proxy) and the cache and broker of the current environment."""
    env = dict(os.environ if base is None else base)
    env.update(
        DJANGO_SETTINGS_MODULE=PRODUCTION_SETTINGS,
        DATABASE_URL=database_url,
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        DEBUG="false",
        STATIC_ROOT=str(static_root),
        LOG_LEVEL="WARNING",
    )
    return env


@dataclass
class Server:
    process: subprocess.Popen
    host: str
    port: int
    secret_key: str
    settings_module: str
    workers: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _answers(host: str, port: int, path: str = "/healthz") -> int | None:
    """The status of ``path``, or None when nothing answers yet."""
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path, headers={"X-Forwarded-Proto": "https"})
        response = conn.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def collect_static(*, env: dict[str, str], log) -> None:
    """``collectstatic`` into ``env["STATIC_ROOT"]``: the production settings serve
    static files through a manifest that must exist before the first page."""
    manage = Path(settings.BASE_DIR) / "manage.py"
    result = subprocess.run(  # noqa: S603  # nosec B603 # our interpreter, fixed arguments
        [sys.executable, str(manage), "collectstatic", "--noinput", "-v0"],
        cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise ServerError(f"collectstatic failed (exit {result.returncode}); see {log.name}")


@contextmanager
def gunicorn_serving(
    *,
    database_url: str,
    static_root: Path,
    log_path: Path,
    workers: int = 3,
    host: str = "127.0.0.1",
    secret_key: str | None = None,
) -> Iterator[Server]:
    """gunicorn serving ``config.wsgi`` with the production settings on a free port of
    ``host``, with ``secret_key`` (default: a new random one); stopped (terminate, then
    wait) when the block ends."""
    secret_key = secret_key or secrets.token_urlsafe(50)
    env = server_environment(
        database_url=database_url, secret_key=secret_key, static_root=static_root
    )
    static_root.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    port = free_port(host)
    with log_path.open("w") as log:
        collect_static(env=env, log=log)
        log.flush()
        process = subprocess.Popen(  # noqa: S603  # nosec B603 # our interpreter, fixed arguments
            [sys.executable, "-m", "gunicorn", "config.wsgi:application",
             "--bind", f"{host}:{port}", "--workers", str(workers),
             "--timeout", "120", "--graceful-timeout", "10", "--no-control-socket",
             "--error-logfile", "-"],
            cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        server = Server(process, host, port, secret_key, PRODUCTION_SETTINGS, workers, log_path)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while _answers(host, port) is None:
                if process.poll() is not None:
                    raise ServerError(f"gunicorn exited:\n{server.log_tail()}")
                if time.monotonic() > deadline:
                    raise ServerError(f"gunicorn did not answer /healthz:\n{server.log_tail()}")
                time.sleep(0.2)
            yield server
        finally:
            server.stop()


# --- signing users in --------------------------------------------------------------------


def session_cookie(user, *, secret_key: str | None = None) -> tuple[str, str]:
    """A signed-in session for ``user`` as a server with ``secret_key`` (default: this
    process's) reads it: the ``Cookie`` header value and the session key."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    with override_settings(SECRET_KEY=secret_key or settings.SECRET_KEY):
        store = store_class()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = MODEL_BACKEND
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.save(must_create=True)
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}", store.session_key


def sessions_delete(keys: Sequence[str]) -> None:
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store_class(session_key=key).delete()


# --- the users ---------------------------------------------------------------------------


def warm_up(*, base_url: str, requests: Sequence[PageRequest], times: int) -> dict[str, int]:
    """Ask for each page ``times`` times, one request after another (so that each of
    the server's workers has likely rendered it once); the count of each status."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=REQUEST_TIMEOUT_S)
    statuses: Counter[str] = Counter()
    try:
        for _ in range(times):
            for page in requests:
                try:
                    conn.request("GET", parts.path.rstrip("/") + page.path, headers=page.headers)
                    response = conn.getresponse()
                    response.read()
                    statuses[str(response.status)] += 1
                    if response.will_close:
                        conn.close()
                except (OSError, http.client.HTTPException) as exc:
                    statuses[exc.__class__.__name__] += 1
                    conn.close()
    finally:
        conn.close()
    return dict(statuses)


def load_run(
    *,
    base_url: str,
    requests: Sequence[PageRequest],
    users: int,
    seconds: float,
    seed: int = 7,
) -> dict:
    """``users`` threads, each asking for pages of ``requests`` in a random order without
    pause for ``seconds``. An error is a request that raised or did not return 200."""
    if users < 1 or seconds <= 0 or not requests:
        raise ValueError("A load needs at least one user, one page and some time.")
    parts = urlsplit(base_url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"{base_url!r} is not an http:// address.")
    host, port = parts.hostname, parts.port or 80
    prefix = parts.path.rstrip("/")
    samples: list[list[tuple[str, float, int | str]]] = [[] for _ in range(users)]
    start = threading.Barrier(users + 1)
    deadline = 0.0

    def user(index: int) -> None:
        # The order of the pages, not a secret.
        rng = random.Random(seed + index)  # noqa: S311  # nosec B311 # a page order, not a secret
        conn = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT_S)
        mine = samples[index]
        start.wait()
        while time.monotonic() < deadline:
            page = rng.choice(requests)
            began = time.perf_counter()
            try:
                conn.request("GET", prefix + page.path, headers=page.headers)
                response = conn.getresponse()
                response.read()
                outcome: int | str = response.status
                if response.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                outcome = exc.__class__.__name__
                conn.close()
            mine.append((page.name, (time.perf_counter() - began) * 1000, outcome))
        conn.close()

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join(timeout=seconds + REQUEST_TIMEOUT_S + 10)
    elapsed = time.monotonic() - began
    done = [sample for mine in samples for sample in mine]
    failures = Counter(str(outcome) for _, _, outcome in done if outcome != 200)
    result = {
        "users": users,
        "seconds": seconds,
        "elapsed_s": round(elapsed, 2),
        **latency_summary([ms for _, ms, _ in done]),
        "requests_per_s": round(len(done) / elapsed, 1) if elapsed > 0 else 0.0,
        "errors": sum(failures.values()),
        "error_kinds": dict(failures),
        "pages": {},
    }
    for page in requests:
        mine = [(ms, outcome) for name, ms, outcome in done if name == page.name]
        result["pages"][page.name] = {
            "path": page.path,
            **latency_summary([ms for ms, _ in mine]),
            "errors": sum(1 for _, outcome in mine if outcome != 200),
        }
    return result
