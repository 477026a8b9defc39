"""The pod host: claims low-latency deployments and keeps one PodRunner per claimed deployment.

Any number of pod hosts may run (one per worker machine): each claims
deployments with row locks and beats its pods; pods of a silent host are
claimed by another one (settings.RUNNER_LEASE_S).
"""

from __future__ import annotations

import logging
import shutil
import threading
import time

from django.db import DatabaseError, connection

from deployments.models import Deployment, DeploymentMode, DeploymentStatus, Pod
from deployments.pods import services
from deployments.pods.resources import GpuSlots, gpu_count
from deployments.pods.runner import GPUS_BUSY, PodRunner, generation, pod_dir_for
from executions.models import RunnerKind
from executions.services.runners import runner_name, runner_retire, runner_settle
from executions.services.variables import environment_variables_keep

logger = logging.getLogger(__name__)


# On close (SIGTERM), what ends within this is recorded; the rest is
# settled by the one rule (runners.py), so the host is gone within ~2 s.
STOP_GRACE_S = 0.7
# Then how long the runners' threads get to notice they must stop.
CLOSE_WAIT_S = 0.2
# The lease and the pods' heartbeats, from a thread of their own so that a
# slow step (stopping pods) never looks like a dead host.
BEAT_EVERY_S = 1.0


class PodHost:
    def __init__(self, host: str | None = None) -> None:
        self.host = host or runner_name()
        self.runners: dict[object, PodRunner] = {}
        self.gpus = GpuSlots(gpu_count())
        self.closing = threading.Event()
        self.beater: threading.Thread | None = None
        environment_variables_keep()

    def start_beating(self) -> None:
        """Beat from a thread from now on (run_pods); without it, each step beats."""
        self.beater = threading.Thread(
            target=self._beat_forever, name="pod-host-beat", daemon=True
        )
        self.beater.start()

    def _beat_forever(self) -> None:
        while not self.closing.wait(BEAT_EVERY_S):
            try:
                self.beat()
            except DatabaseError:
                logger.warning("pod host %s: could not beat", self.host)
            finally:
                connection.close()

    def beat(self) -> None:
        """This host, its pods and the executions they run are alive."""
        running = [
            pk for runner in list(self.runners.values()) for pk in runner.running_pks()
        ]
        services.pods_beat(
            host=self.host, deployment_pks=list(self.runners), running_pks=running
        )

    def step(self) -> bool:
        """Claim, reconcile, beat; True when something changed."""
        changed = self.reconcile()
        for runner in list(self.runners.values()):
            wanted = runner.deployment.gpu_request or 0
            if runner.unavailable is not None and wanted <= len(self.gpus.free):
                self.start(runner.deployment)  # GPUs were freed meanwhile
                changed = True
        for deployment in services.pods_claim(host=self.host):
            self.start(deployment)
            changed = True
        if self.beater is None:
            self.beat()
        return changed

    def start(self, deployment: Deployment) -> None:
        self._stop(deployment.pk)
        wanted = deployment.gpu_request or 0
        gpus = self.gpus.take(wanted)
        unavailable = None
        if gpus is None:
            unavailable = GPUS_BUSY.format(
                wanted=wanted,
                host=self.host,
                free=len(self.gpus.free),
                total=self.gpus.total,
            )
        runner = PodRunner(deployment, self.host, gpus=gpus, unavailable=unavailable)
        self.runners[deployment.pk] = runner
        runner.start()
        logger.info("pod host %s: serving deployment %s", self.host, deployment.name)

    def reconcile(self) -> bool:
        """Stop pods of deployments deleted, disabled, taken over or changed."""
        if not self.runners:
            return False
        current = {
            d.pk: d
            for d in Deployment.objects.filter(
                pk__in=list(self.runners)
            ).select_related("pipeline")
        }
        mine = set(
            Pod.objects.filter(
                host=self.host, deployment_id__in=list(self.runners)
            ).values_list("deployment_id", flat=True)
        )
        changed = False
        for pk, runner in list(self.runners.items()):
            deployment = current.get(pk)
            keep = (
                deployment is not None
                and deployment.is_enabled
                and deployment.mode == DeploymentMode.LOW_LATENCY
                and pk in mine
            )
            if keep and generation(deployment) == runner.generation:
                if (
                    runner.up.is_set()
                    and deployment.status == DeploymentStatus.CREATION_PENDING
                ):
                    # Disabled and enabled again between two looks: the pod
                    # never stopped, so it never says "up" again by itself.
                    services.deployment_status_set(
                        deployment_pk=pk, status=DeploymentStatus.UP
                    )
                continue
            changed = True
            self._stop(pk)
            if keep:
                self.start(deployment)
                continue
            if pk in mine:
                services.pod_release(deployment_pk=pk, host=self.host)
            if deployment is None:
                shutil.rmtree(pod_dir_for(pk), ignore_errors=True)
            logger.info("pod host %s: stopped the pod of %s", self.host, pk)
        return changed

    def _stop(self, pk) -> None:
        runner = self.runners.pop(pk, None)
        if runner is not None:
            runner.stop()
            self.gpus.give_back(runner.gpus)

    def close(self) -> None:
        """Stop (SIGTERM): take nothing more, record what ends within STOP_GRACE_S, settle the rest."""
        self.closing.set()
        began = time.monotonic()
        runners = list(self.runners.values())
        for runner in runners:
            runner.stopping.set()  # the dispatchers take nothing more
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(r.running_pks() for r in runners):
            time.sleep(0.05)
        for runner in runners:
            runner.abandon()
        # What is still Running here had started: the one rule decides.
        runner_settle(name=self.host, kind=RunnerKind.POD_HOST, how="was stopped")
        for pk in list(self.runners):
            self.gpus.give_back(self.runners.pop(pk).gpus)
            services.pod_release(deployment_pk=pk, host=self.host)
        # Daemon threads: waiting for them only lets their last writes land.
        until = time.monotonic() + CLOSE_WAIT_S
        for runner in runners:
            runner.join(max(0.0, until - time.monotonic()))
        runner_retire(name=self.host)
        logger.info(
            "pod host %s stopped in %.2f s", self.host, time.monotonic() - began
        )
