from __future__ import annotations

from deployments.scheduler import MAX_SLEEP_S, scheduler_step, seconds_until_next_tick
from platform_site.operations.loops import LoopCommand


class Command(LoopCommand):
    help = "Start periodic deployments' executions on their CRON ticks (UTC)."
    part = "scheduler"

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-sleep",
            type=float,
            default=MAX_SLEEP_S,
            help="Longest sleep between checks, in seconds (default %(default)s).",
        )

    def handle(self, *args, **options):
        self.max_sleep = options["max_sleep"]
        super().handle(*args, **options)

    def step(self) -> bool:
        return scheduler_step()

    def idle_pause(self) -> float:
        return seconds_until_next_tick(cap=self.max_sleep)
