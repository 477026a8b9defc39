from __future__ import annotations

import time

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Re-enqueue lost pending executions and reap stuck running ones (placeholder loop)."

    def handle(self, *args, **options):
        while True:
            time.sleep(5)
