# The pipeline models moved here from deployments with their rows
# (platform_site/migration_operations.py): deployments.0003 then forgets them.

import uuid

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from platform_site.migration_operations import AdoptModel


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("deployments", "0002_pipeline_archive"),
        # Every older migration that points at deployments_pipeline runs first.
        ("executions", "0004_health_indexes"),
    ]

    operations = [
        AdoptModel(
            name="Pipeline",
            old_table="deployments_pipeline",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("name", models.CharField(max_length=63, unique=True, validators=[django.core.validators.RegexValidator("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", "Names use lowercase letters, digits and dashes, 1-63 characters, starting and ending with a letter or digit.")])),
                ("function_path", models.CharField(max_length=500)),
                ("function_name", models.CharField(max_length=200)),
                ("description", models.TextField(blank=True, null=True)),
                ("inputs", models.JSONField(default=list)),
                ("outputs", models.JSONField(default=list)),
                ("container_config", models.JSONField(default=dict)),
                ("status", models.CharField(choices=[("creation_pending", "Creation Pending"), ("ready", "Ready"), ("creation_failed", "Creation Failed")], default="creation_pending", max_length=20)),
                ("origin", models.CharField(default="local", max_length=20)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("created_by", models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="+", to=settings.AUTH_USER_MODEL)),
            ],
            options={"ordering": ["-created_at"]},
        ),
        AdoptModel(
            name="PipelineArchive",
            old_table="deployments_pipelinearchive",
            fields=[
                ("pipeline", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="archive", serialize=False, to="pipelines.pipeline")),
                ("content", models.BinaryField()),
                ("sha256", models.CharField(max_length=64)),
            ],
        ),
        AdoptModel(
            name="PipelineLog",
            old_table="deployments_pipelinelog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("timestamp", models.DateTimeField()),
                ("message", models.TextField()),
                ("pipeline", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="logs", to="pipelines.pipeline")),
            ],
            options={
                "ordering": ["timestamp", "id"],
                "indexes": [models.Index(fields=["pipeline", "timestamp"], name="deployments_pipelin_ca5b14_idx")],
            },
        ),
    ]
