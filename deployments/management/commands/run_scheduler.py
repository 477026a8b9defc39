from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from platform_site import health


class Command(BaseCommand):
    help = (
        "Start periodic deployments' executions on their CRON ticks (placeholder loop)."
    )

    def handle(self, *args, **options):
        while True:
            health.beat("scheduler")
            time.sleep(5)
