"""The pod host of this machine: keeps the pods of low-latency deployments running."""

from __future__ import annotations

from deployments.pods.host import PodHost
from executions.services import variables
from platform_site.http import notify
from platform_site.operations.loops import LoopCommand

IDLE_SLEEP_S = 0.5


class Command(LoopCommand):
    help = "Run the pods of low-latency deployments (claimed with row locks)."
    part = "pods"

    def handle(self, *args, **options):
        # It waits only for changes of the variables it keeps: every endpoint
        # call's end is announced too, and is not its business.
        notify.listen_only(variables.CHANNEL_KIND)
        self.pod_host = PodHost()
        self.pod_host.start_beating()
        try:
            super().handle(*args, **options)
        finally:
            self.pod_host.close()

    def step(self) -> bool:
        return self.pod_host.step()

    def idle_pause(self) -> float:
        return IDLE_SLEEP_S
