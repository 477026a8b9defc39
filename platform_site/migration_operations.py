"""Migration operations for models that moved between apps, keeping their rows.

A model that changes app keeps its table: the new app's migration renames
the old table (an install that already has data) or creates it (a fresh
database, where the old app's migrations never created it).
"""

from __future__ import annotations

from django.db import migrations


class AdoptModel(migrations.CreateModel):
    """CreateModel for a model that moved here: renames `old_table` when it exists."""

    def __init__(self, name, fields, *, old_table: str, **kwargs):
        super().__init__(name, fields, **kwargs)
        self.old_table = old_table

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        kwargs["old_table"] = self.old_table
        return name, args, kwargs

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        tables = schema_editor.connection.introspection.table_names()
        if self.old_table in tables:
            schema_editor.alter_db_table(model, self.old_table, model._meta.db_table)
        else:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.alter_db_table(model, model._meta.db_table, self.old_table)

    def describe(self) -> str:
        return f"Adopt model {self.name} (table {self.old_table})"


def state_only(*operations):
    """Operations that change Django's picture of the models but not the database."""
    return migrations.SeparateDatabaseAndState(state_operations=list(operations))
