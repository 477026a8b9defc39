# The pipeline models now belong to the pipelines app (its 0001 took the tables).

import django.db.models.deletion
from django.db import migrations, models

from platform_site.migration_operations import state_only


class Migration(migrations.Migration):
    dependencies = [
        ("deployments", "0002_pipeline_archive"),
        ("executions", "0005_pipeline_moved"),
        ("pipelines", "0001_initial"),
    ]

    operations = [
        state_only(
            migrations.AlterField(
                model_name="deployment",
                name="pipeline",
                field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="deployments", to="pipelines.pipeline"),
            ),
            migrations.DeleteModel(name="PipelineLog"),
            migrations.DeleteModel(name="PipelineArchive"),
            migrations.DeleteModel(name="Pipeline"),
        ),
    ]
