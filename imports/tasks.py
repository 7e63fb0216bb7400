"""Celery tasks of the imports: thin, by id, idempotent (the services compare and set
the job's status, so a task delivered twice does the work once)."""

from celery import shared_task

from . import services


@shared_task(name="imports.tasks.validate_import", acks_late=True)
def validate_import(job_id: int) -> None:
    services.import_job_validate(job_id=job_id)


@shared_task(name="imports.tasks.run_import", acks_late=True)
def run_import(job_id: int) -> None:
    services.import_job_execute(job_id=job_id)
