# Pods and their log moved here from the pods app with their rows
# (platform_site/migration_operations.AdoptModel).

import django.db.models.deletion
from django.db import migrations, models

from platform_site.migration_operations import AdoptModel


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0004_endpoint_access_and_retention_moved"),
    ]

    operations = [
        AdoptModel(
            name="Pod",
            old_table="pods_pod",
            fields=[
                ("deployment", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name="pod", serialize=False, to="deployments.deployment")),
                ("pod_id", models.CharField(max_length=100)),
                ("host", models.CharField(max_length=200)),
                ("status", models.CharField(choices=[("starting", "Starting"), ("running", "Running"), ("restarting", "Restarting"), ("failed", "Failed")], default="starting", max_length=20)),
                ("pid", models.PositiveIntegerField(blank=True, null=True)),
                ("rss_kib", models.PositiveBigIntegerField(blank=True, null=True)),
                ("restarts", models.PositiveIntegerField(default=0)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("heartbeat_at", models.DateTimeField()),
            ],
        ),
        AdoptModel(
            name="PodLog",
            old_table="pods_podlog",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("pod_id", models.CharField(max_length=100)),
                ("timestamp", models.DateTimeField()),
                ("stream", models.CharField(default="stdout", max_length=6)),
                ("message", models.TextField()),
                ("deployment", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="pod_logs", to="deployments.deployment")),
            ],
            options={
                "ordering": ["timestamp", "id"],
                "indexes": [models.Index(fields=["deployment", "timestamp"], name="pods_podlog_deploym_435587_idx")],
            },
        ),
    ]
