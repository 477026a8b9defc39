# Pipeline metrics and replay links moved here from the metrics and replays
# apps with their rows (platform_site/migration_operations.AdoptModel).

import django.db.models.deletion
from django.db import migrations, models

from platform_site.migration_operations import AdoptModel


def drop_unsigned_token_table(apps, schema_editor):
    """metrics' 0002 dropped it; an install that skipped that step still has it."""
    if "metrics_executionsdktoken" in schema_editor.connection.introspection.table_names():
        schema_editor.execute("DROP TABLE metrics_executionsdktoken")


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0005_pipeline_moved"),
    ]

    operations = [
        AdoptModel(
            name="PipelineMetric",
            old_table="metrics_pipelinemetric",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("kind", models.CharField(choices=[("single", "Single"), ("list", "List")], max_length=6)),
                ("name", models.CharField(max_length=200)),
                ("value", models.FloatField(blank=True, null=True)),
                ("values", models.JSONField(blank=True, default=list)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("execution", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="metrics", to="executions.execution")),
            ],
            options={
                "ordering": ["created_at", "id"],
                "indexes": [models.Index(fields=["kind", "name", "created_at"], name="metrics_pip_kind_0b8456_idx")],
                "constraints": [models.UniqueConstraint(fields=("execution", "kind", "name"), name="one_metric_per_name")],
            },
        ),
        AdoptModel(
            name="ExecutionReplay",
            old_table="replays_executionreplay",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("original_execution_id", models.CharField(max_length=100)),
                ("original", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="replays", to="executions.execution")),
                ("replay", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name="replay_of", to="executions.execution")),
            ],
        ),
        migrations.RunPython(drop_unsigned_token_table, migrations.RunPython.noop),
    ]
