from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.services import sdk_token_create

NOT_MIGRATED = (
    "The database {database} has no tables yet: this is not the platform's database. "
    "Run this command with the PLATFORM_DATA_DIR (and DATABASE_URL, if set) that "
    "`make run` uses, or start the platform once with `make run`, which creates them."
)


class Command(BaseCommand):
    help = "Create an SDK token for a user and print it as the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="command line")

    def handle(self, *args, username: str, name: str, **options):
        user_table = get_user_model()._meta.db_table
        if user_table not in connection.introspection.table_names():
            # Otherwise: a traceback ending in "no such table: auth_user".
            raise CommandError(
                NOT_MIGRATED.format(database=connection.settings_dict["NAME"])
            )
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        issued = sdk_token_create(user=user, name=name)
        self.stdout.write(
            f"SDK token for {username} (shown once; store it as CRAFT_AI_SDK_TOKEN):"
        )
        self.stdout.write(issued.raw)
