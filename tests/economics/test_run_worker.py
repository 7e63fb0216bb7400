"""A run requested as a person would (queued after commit) is computed by whatever runs
tasks: in-process without a broker, a real worker on Redis in CI."""

import time

import pytest

from economics import services
from economics.models import CustomerScore, EconomicsRun
from economics.selectors import current_run
from tests.economics.conftest import AS_OF, build_base


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_queued_run_is_computed_and_published(celery_worker):
    ids = build_base(n=300, seed=3)
    run = services.run_request(as_of=AS_OF)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.active is None:
            break
        time.sleep(0.5)
    assert run.status == EconomicsRun.Status.SUCCEEDED, run.error
    assert current_run() == run
    assert CustomerScore.objects.filter(run=run).count() == len(ids)
