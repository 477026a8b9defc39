import django.db.models.deletion
from django.db import migrations, models

from platform_site.migration_operations import state_only


class Migration(migrations.Migration):
    dependencies = [
        ("executions", "0004_health_indexes"),
        ("pipelines", "0001_initial"),
    ]

    operations = [
        state_only(
            migrations.AlterField(
                model_name="execution",
                name="pipeline",
                field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name="executions", to="pipelines.pipeline"),
            ),
        ),
    ]
