"""On PostgreSQL, the database itself refuses to change or delete an audit event, so
not even code that bypasses the model (a queryset's raw SQL, a shell) rewrites history.
Other databases rely on the model's guard (``AuditEvent.save``/``delete`` and its
query set)."""

from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'The audit log is append-only: % of audit event % refused',
            TG_OP, OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$
    """,
    """
    CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
    """,
]
BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_event_append_only()",
]


class PostgreSQLOnly(migrations.RunSQL):
    """RunSQL that does nothing on other databases (SQLite has no plpgsql)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [PostgreSQLOnly(sql=FORWARD, reverse_sql=BACKWARD)]
