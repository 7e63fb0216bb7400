from __future__ import annotations

import socket
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .models import WorkerHeartbeat

HEARTBEATS_KEPT = timedelta(days=1)


@transaction.atomic
def heartbeat_record(*, hostname: str | None = None, eager: bool = False) -> WorkerHeartbeat:
    """Write a heartbeat and forget those older than a day."""
    now = timezone.now()
    beat = WorkerHeartbeat.objects.create(
        hostname=hostname or socket.gethostname(), at=now, eager=eager
    )
    WorkerHeartbeat.objects.filter(at__lt=now - HEARTBEATS_KEPT).delete()
    return beat
