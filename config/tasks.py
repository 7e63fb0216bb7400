"""How the tasks that compute and import retry: after a transient error only (the
database or the broker out of reach for a moment), with exponential backoff and jitter,
a bounded number of times. Any other error (a model that does not fit, a bug) fails the
work at once: trying it again would fail the same way."""

from celery import Task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,  # the database connection was lost or refused
    InterfaceError,  # the database connection is already closed
    BrokerOperationalError,  # the broker could not be reached
    RedisConnectionError,
    RedisTimeoutError,
)


class RetryingTask(Task):
    """A task retried after transient errors (``RETRY_OPTIONS``). Run in-process with
    errors propagating to the caller (``task_eager_propagates``, the default without a
    broker), Celery would hand the caller a ``Retry`` exception and run nothing: the
    caller gets the error itself instead, and the work is not retried (``will_retry``)."""

    def retry(self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None,
              max_retries=None, **options):  # fmt: skip
        if exc is not None and self.request.is_eager and self.app.conf.task_eager_propagates:
            raise exc
        return super().retry(args, kwargs, exc, throw, eta, countdown, max_retries, **options)


# Celery's task options: the n-th retry waits a random time between 0 and
# min(retry_backoff × 2ⁿ, retry_backoff_max) seconds ("full jitter"), so workers that
# lost the database together do not come back together.
RETRY_OPTIONS: dict = {
    "base": RetryingTask,
    "autoretry_for": TRANSIENT_ERRORS,
    "max_retries": 5,
    "retry_backoff": 10,
    "retry_backoff_max": 300,
    "retry_jitter": True,
}


def will_retry(task) -> bool:
    """Whether a transient error in the current delivery of ``task`` will be retried:
    it runs as a task (not called as a plain function), not in-process with errors
    propagating to the caller (see ``RetryingTask``), and has retries left."""
    request = task.request
    if request.called_directly:
        return False
    if request.is_eager and task.app.conf.task_eager_propagates:
        return False
    return request.retries < task.max_retries
