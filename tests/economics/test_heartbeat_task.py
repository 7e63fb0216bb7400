"""The smallest real task: it proves that whatever runs tasks (in-process without a
broker, a worker on Redis in CI) reaches the database."""

import pytest
from django.conf import settings

from economics.models import WorkerHeartbeat
from economics.tasks import record_heartbeat


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_task_writes_a_beat(celery_worker):
    result = record_heartbeat.delay()
    beat_id = result.get(timeout=60)
    beat = WorkerHeartbeat.objects.get(pk=beat_id)
    if settings.CELERY_TASK_ALWAYS_EAGER:
        assert celery_worker is None
        assert beat.eager
    else:
        assert not beat.eager
        assert beat.hostname == celery_worker


@pytest.mark.django_db
def test_old_heartbeats_are_forgotten():
    import datetime as dt

    from django.utils import timezone

    from economics.services import heartbeat_record

    old = WorkerHeartbeat.objects.create(hostname="old", at=timezone.now() - dt.timedelta(days=2))
    heartbeat_record(hostname="new")
    assert not WorkerHeartbeat.objects.filter(pk=old.pk).exists()
    assert WorkerHeartbeat.objects.filter(hostname="new").count() == 1
