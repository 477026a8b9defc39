# The endpoint_access and retention apps are gone: named endpoint tokens are
# adopted with their rows, and the two one-to-one side tables (limits, pins)
# become fields of the deployment, their values copied before the tables go.

import uuid

import django.db.models.deletion
from django.db import migrations, models

from platform_site.migration_operations import AdoptModel

# (old table, its columns -> the deployment's columns)
SIDE_TABLES = (
    (
        "endpoint_access_endpointlimits",
        {
            "calls_per_minute": "calls_per_minute",
            "main_token_last_used_at": "main_token_last_used_at",
        },
    ),
    ("retention_deploymentpin", {"pinned_at": "executions_pinned_at"}),
)


def side_tables_into_fields(apps, schema_editor):
    """Copy each old side table's values onto its deployment, then drop the table.

    Plain SQL that PostgreSQL and SQLite both run: one correlated UPDATE per column.
    """
    existing = schema_editor.connection.introspection.table_names()
    quote = schema_editor.quote_name
    for table, columns in SIDE_TABLES:
        if table not in existing:
            continue  # a fresh database: the old app never ran
        for old, new in columns.items():
            schema_editor.execute(
                f"UPDATE deployments_deployment SET {quote(new)} = ("
                f"SELECT side.{quote(old)} FROM {quote(table)} side "
                "WHERE side.deployment_id = deployments_deployment.id) "
                f"WHERE id IN (SELECT deployment_id FROM {quote(table)})"
            )
        schema_editor.execute(f"DROP TABLE {quote(table)}")


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0003_pipelines_moved"),
    ]

    operations = [
        migrations.AddField(
            model_name="deployment",
            name="calls_per_minute",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="deployment",
            name="main_token_last_used_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="deployment",
            name="executions_pinned_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(side_tables_into_fields, migrations.RunPython.noop),
        AdoptModel(
            name="EndpointToken",
            old_table="endpoint_access_endpointtoken",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=100)),
                ("prefix", models.CharField(max_length=8)),
                ("digest", models.CharField(max_length=64)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("last_used_at", models.DateTimeField(blank=True, null=True)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("revoked_at", models.DateTimeField(blank=True, null=True)),
                ("deployment", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="extra_tokens", to="deployments.deployment")),
            ],
            options={
                "ordering": ["-created_at"],
                "constraints": [models.UniqueConstraint(fields=("deployment", "digest"), name="one_endpoint_token_per_digest")],
            },
        ),
    ]
