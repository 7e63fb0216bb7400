from django.db import models


class WorkerHeartbeat(models.Model):
    """A beat written by a Celery worker; its age tells whether background work runs."""

    hostname = models.CharField(max_length=200)
    at = models.DateTimeField()
    eager = models.BooleanField(default=False, help_text="Ran in-process, without a broker.")

    class Meta:
        ordering = ["-at"]
        get_latest_by = "at"

    def __str__(self) -> str:
        return f"{self.hostname} at {self.at:%Y-%m-%d %H:%M:%S}"
