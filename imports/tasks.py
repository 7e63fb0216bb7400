"""Celery tasks of the imports: thin, by id, idempotent (the services compare and set
the job's status, so a task delivered twice does the work once). A transient error
(database or broker out of reach) puts the job back in the queue and the task is
retried with backoff; any other error fails the job at once."""

from celery import shared_task

from config.tasks import RETRY_OPTIONS, will_retry

from . import services


@shared_task(bind=True, name="imports.tasks.validate_import", acks_late=True, **RETRY_OPTIONS)
def validate_import(self, job_id: int) -> None:
    services.import_job_validate(job_id=job_id, retry_transient=will_retry(self))


@shared_task(bind=True, name="imports.tasks.run_import", acks_late=True, **RETRY_OPTIONS)
def run_import(self, job_id: int) -> None:
    services.import_job_execute(job_id=job_id, retry_transient=will_retry(self))
