"""A flag's ``last_seen_by`` is written when it closes: open flags lose theirs (the run
that last found an open flag is the current run). On PostgreSQL the flags table leaves
room on each page, so that the runs' rewrites of a kept flag's detail stay on its page
without touching an index."""

import django.db.models.deletion
from django.db import migrations, models

FLAGS = "economics_customerflag"


def forget_open(apps, schema_editor):
    flag = apps.get_model("economics", "CustomerFlag")
    flag.objects.filter(status="open").update(last_seen_by=None)


def seen_by_current(apps, schema_editor):
    run = apps.get_model("economics", "EconomicsRun")
    flag = apps.get_model("economics", "CustomerFlag")
    current = run.objects.filter(is_current=True).values_list("pk", flat=True).first()
    flag.objects.filter(status="open").update(last_seen_by=current)


def fillfactor(value):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            # safe: a constant table name and an integer
            schema_editor.execute(f"ALTER TABLE {FLAGS} SET (fillfactor = {int(value)})")

    return apply


class Migration(migrations.Migration):
    dependencies = [
        ("economics", "0007_scores_partitioned_by_run"),
    ]

    operations = [
        migrations.AlterField(
            model_name="customerflag",
            name="last_seen_by",
            field=models.ForeignKey(
                blank=True,
                help_text="The last run that found it, recorded when it closes.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="economics.economicsrun",
            ),
        ),
        migrations.RunPython(forget_open, seen_by_current, elidable=False),
        migrations.RunPython(fillfactor(80), fillfactor(100), elidable=False),
    ]
