"""A real Celery worker for tests/reliability/test_worker_kill.py: the project's worker,
started as ``python -m tests.reliability.holding_worker [worker options]``, whose
economics runs wait at one stage (``TANGO_TEST_HOLD_STAGE``) for as long as a file
(``TANGO_TEST_HOLD_FILE``) exists. The test holds a run there, in the middle of its
computation, to kill the process computing it; the application's code is not changed.

The stage is reported through ``economics.services._progress``; the wrapper is put in
place before the worker starts, so the pool's processes (forked from it) have it."""

from __future__ import annotations

import os
import sys
import time

HOLD_AT_MOST_S = 300


def _hold_runs_at(stage: str, hold_file: str) -> None:
    from economics import services

    report = services._progress

    def progress(run_id: int, name: str, percent: int) -> None:
        report(run_id, name, percent)
        deadline = time.monotonic() + HOLD_AT_MOST_S
        while name == stage and os.path.exists(hold_file) and time.monotonic() < deadline:
            time.sleep(0.1)

    services._progress = progress


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    from config.celery import app

    django.setup()
    _hold_runs_at(os.environ["TANGO_TEST_HOLD_STAGE"], os.environ["TANGO_TEST_HOLD_FILE"])
    app.worker_main(["worker", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
