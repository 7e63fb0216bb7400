from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _worklist_triggers_ensure(sender, using, **kwargs) -> None:
    """Put back the worklist's change triggers a migration dropped (SQLite drops a
    table's triggers when it rebuilds the table to alter it)."""
    from . import triggers

    connection = connections[using]
    if triggers.TABLE not in connection.introspection.table_names():
        return
    if triggers.triggers_present(connection) < triggers.triggers_expected(connection.vendor):
        triggers.triggers_create(connection)


class CxConfig(AppConfig):
    name = "cx"
    verbose_name = "Customer experience"

    def ready(self) -> None:
        post_migrate.connect(_worklist_triggers_ensure, sender=self)
