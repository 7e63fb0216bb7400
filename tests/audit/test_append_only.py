"""Audit events are only ever added: the model, its query set and (on PostgreSQL) the
database refuse to change or delete one."""

import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction

from audit.models import AuditAction, AuditEvent, AuditLogIsAppendOnly
from audit.services import audit_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(executive):
    return audit_record(action=AuditAction.EXPORT, actor=executive, detail={"rows": 3})


def unchanged(event) -> bool:
    stored = AuditEvent.objects.get(pk=event.pk)
    return (stored.action, stored.detail) == (AuditAction.EXPORT, {"rows": 3})


def test_saving_an_existing_event_again_is_refused(event):
    event.detail = {"rows": 0}
    with pytest.raises(AuditLogIsAppendOnly):
        event.save()
    fetched = AuditEvent.objects.get(pk=event.pk)
    fetched.action = AuditAction.LOGIN
    with pytest.raises(AuditLogIsAppendOnly):
        fetched.save(update_fields=["action"])
    assert unchanged(event)


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AuditLogIsAppendOnly):
        event.delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_bulk_changes_and_deletes_are_refused(event):
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(detail={})
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    with pytest.raises(AuditLogIsAppendOnly), transaction.atomic():
        AuditEvent.objects.bulk_update([event], ["detail"])
    assert unchanged(event)


def test_a_new_event_with_the_id_of_an_old_one_does_not_overwrite_it(event):
    impostor = AuditEvent(pk=event.pk, action=AuditAction.LOGIN, actor_label="mallory")
    with pytest.raises(IntegrityError), transaction.atomic():
        impostor.save()
    assert unchanged(event)


def test_a_failed_sign_in_cannot_name_a_user(executive):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.create(action=AuditAction.LOGIN_FAILED, actor=executive)


def test_an_unknown_action_is_refused():
    with pytest.raises(ValueError, match="is not a valid AuditAction"):
        audit_record(action="tidied_up")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.create(action="tidied_up")


def test_the_database_refuses_what_bypasses_the_model(event):
    """On PostgreSQL a trigger refuses UPDATE and DELETE even in raw SQL. SQLite has no
    such trigger: there the model's guard is the whole protection, and it holds."""
    table = AuditEvent._meta.db_table
    if connection.vendor == "postgresql":
        for sql in [
            f"UPDATE {table} SET detail = '{{}}' WHERE id = %s",  # noqa: S608 — our table name
            f"DELETE FROM {table} WHERE id = %s",  # noqa: S608 — our table name
        ]:
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, [event.pk])
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [table],
            )
            assert [row[0] for row in cursor.fetchall()] == ["audit_event_append_only"]
        # Adding stays possible.
        assert audit_record(action=AuditAction.LOGOUT).pk > event.pk
    else:
        assert connection.vendor == "sqlite"
        with pytest.raises(AuditLogIsAppendOnly):
            AuditEvent.objects.filter(pk=event.pk).update(detail={})
        with pytest.raises(AuditLogIsAppendOnly):
            AuditEvent.objects.get(pk=event.pk).delete()
    assert unchanged(event)
