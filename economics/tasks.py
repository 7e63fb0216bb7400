from celery import shared_task

from .services import heartbeat_record


@shared_task(name="economics.tasks.record_heartbeat", ignore_result=False)
def record_heartbeat() -> int:
    """Proves a worker can reach the database; scheduled every minute by beat."""
    eager = bool(getattr(record_heartbeat.request, "is_eager", False))
    hostname = getattr(record_heartbeat.request, "hostname", None)
    return heartbeat_record(hostname=hostname, eager=eager).pk
