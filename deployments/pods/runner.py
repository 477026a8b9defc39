"""One low-latency deployment on a pod host: its pod process, kept running.

A pod that dies is started again: the executions it was running end Error
(over its RAM request), or are run once more right after the execution that
was next in line (any other death). A sync execution past its timeout ends
Failed and its pod is recycled. Its executions are its PodDispatcher's
(dispatcher.py), to which it passes what the pod says.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from django.db.models import F
from django.utils import timezone

from deployments.models import Deployment, DeploymentStatus, Pod, PodStatus
from deployments.pods import services
from deployments.pods.dispatcher import NOT_STARTED, PodDispatcher
from pipelines.models import Pipeline
from pipelines.sandbox import ZYGOTE_ENV, get_sandbox
from pipelines.services.local_ensure import pipeline_local_ensure
from platform_site.http.units import ram_request_mib
from runtime import cgroups, control_group
from runtime.collect import DiskWatch
from runtime.pod_client import PodProcess, PodSpec

logger = logging.getLogger(__name__)

OVER_RAM = "The pod exceeded its RAM request of {ram}"
OVER_DISK = "The pod exceeded its disk cap of {mib} MiB"
# Without a sandbox (its max_processes), the pids limit of a pod.
DEFAULT_MAX_PIDS = 512
RECYCLED = "Pod recycled: execution {execution_id} ran past its timeout of {seconds} s."
GPUS_BUSY = (
    "gpu_request {wanted} cannot be met on {host} now: {free} of its {total} GPU(s) "
    "are free, the others run pods of other deployments. The pod starts as soon "
    "as enough are free."
)


def generation(deployment: Deployment) -> tuple:
    """What the pod depends on: a change recreates it."""
    return (
        deployment.pipeline_id,
        deployment.enable_parallel_executions,
        deployment.max_parallel_executions_per_pod,
        deployment.ram_request,
        deployment.gpu_request,
    )


def pod_dir_for(deployment_pk) -> Path:
    return settings.DATA_DIR / "pods" / str(deployment_pk)


class PodRunner:
    def __init__(
        self,
        deployment: Deployment,
        host: str,
        *,
        gpus: list[int] | None = None,
        unavailable: str | None = None,
    ) -> None:
        """`gpus`: the GPU indices this pod may use; `unavailable`: why it cannot start now."""
        self.deployment = deployment
        self.gpus = gpus or []
        self.unavailable = unavailable
        self.pk = deployment.pk
        self.host = host
        self.generation = generation(deployment)
        self.parallel = (
            deployment.max_parallel_executions_per_pod
            if deployment.enable_parallel_executions
            else 1
        )
        self.ram_mib = ram_request_mib(deployment.ram_request) or 0
        self.pod_dir = pod_dir_for(self.pk)
        self.sandbox = get_sandbox()
        self.key = f"pod:{self.pk}"
        self.pod: PodProcess | None = None
        self.pod_id = ""
        self.pipeline: Pipeline | None = None  # what the pod runs, read as it starts
        self.failed_reason: str | None = None
        self.stopping = threading.Event()
        self.up = threading.Event()
        self.threads: list[threading.Thread] = []
        self.over_ram_seen = False
        self.over_disk_seen = False
        self.recycling = False
        self.disk_mib = settings.POD_DISK_MIB
        self.disk: DiskWatch | None = None
        # The pod's cgroup: memory (its RAM request) and pids count every
        # process it starts, and all of them are killed when it stops.
        self.group: control_group.Cgroup | None = None
        self.dispatcher = PodDispatcher(self)

    # -- life of the pod -----------------------------------------------------

    def start(self) -> None:
        self.threads = [
            threading.Thread(
                target=self.dispatcher.run, name=f"pods {self.pk}", daemon=True
            ),
            threading.Thread(
                target=self._watch, name=f"pods-watch {self.pk}", daemon=True
            ),
        ]
        for thread in self.threads:
            thread.start()

    def join(self, timeout_s: float) -> None:
        """After stop(): wait for its threads to notice (a dispatcher waits on Redis ~1 s)."""
        deadline = time.monotonic() + timeout_s
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self.stopping.set()
        self.up.clear()
        self.dispatcher.runs.end_all("the deployment was disabled, deleted or changed")
        pod = self.pod
        if pod is not None:
            pod.stop()
            _destroy(getattr(pod, "group", None))

    def abandon(self) -> None:
        """The host stops: in-flight executions are its to settle, the pod goes at once.

        Those waiting for a second attempt never started it: Pending again.
        """
        self.stopping.set()
        self.up.clear()
        pod = self.pod
        self.dispatcher.abandon()
        if pod is not None:
            pod.kill()

    def running_pks(self) -> list:
        return self.dispatcher.runs.execution_pks()

    def start_pod(self, *, restart: bool) -> None:
        """Start (or restart) the pod and wait until it is ready or failed; from the dispatcher's thread."""
        self.pod_id = Pod.objects.filter(deployment_id=self.pk).values_list(
            "pod_id", flat=True
        ).first() or str(self.pk)
        if self.unavailable is not None:
            self._failed_to_start(self.unavailable)
            return
        deployment = Deployment.objects.select_related("pipeline").get(pk=self.pk)
        pipeline = self.pipeline = deployment.pipeline
        # Every pod starts with an empty dir: what a dead pod left (files over
        # the disk cap, links) never fills the disk or greets the next one.
        # (rmtree works from directory descriptors, never through links.)
        shutil.rmtree(self.pod_dir, ignore_errors=True)
        self.pod_dir.mkdir(parents=True, exist_ok=True)
        (self.pod_dir / "runs").mkdir(exist_ok=True)
        (self.pod_dir / ".tmp").mkdir(exist_ok=True)
        if self.sandbox is not None:
            self.sandbox.hand_over(str(self.pod_dir), self.key)
        pipeline_local_ensure(pipeline=pipeline)
        env = {**ZYGOTE_ENV, "HOME": str(self.pod_dir), "MALLOC_ARENA_MAX": "2"}
        if self.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(n) for n in self.gpus)
        spec = PodSpec(
            key=self.key,
            python_executable=pipeline.python_executable,
            code_dir=str(pipeline.code_dir),
            function_path=pipeline.function_path,
            function_name=pipeline.function_name,
            pod_dir=str(self.pod_dir),
            max_parallel=self.parallel,
            ram_mib=self.ram_mib,
            env=env,
        )
        self._new_pod(spec)
        services.pod_update(
            deployment_pk=self.pk,
            host=self.host,
            status=PodStatus.RESTARTING if restart else PodStatus.STARTING,
        )
        self.pod.start()
        if self.pod.wait_ready():
            self.failed_reason = None
            services.pod_update(
                deployment_pk=self.pk,
                host=self.host,
                status=PodStatus.RUNNING,
                pid=self.pod.pid,
                rss_kib=self.pod.rss_kib,
                started_at=timezone.now(),
            )
            self._log(f"Pod {self.pod_id} is up (pid {self.pod.pid}).")
            services.deployment_status_set(
                deployment_pk=self.pk, status=DeploymentStatus.UP
            )
            self.up.set()
            return
        self._failed_to_start(self.pod.failure)

    def _failed_to_start(self, reason: str) -> None:
        self.failed_reason = reason
        self._log(NOT_STARTED.format(reason=reason), stream="stderr")
        services.pod_update(
            deployment_pk=self.pk, host=self.host, status=PodStatus.FAILED
        )
        services.deployment_status_set(
            deployment_pk=self.pk, status=DeploymentStatus.CREATION_FAILED
        )

    def _log(self, message: str, stream: str = "stdout") -> None:
        services.pod_log(
            deployment_pk=self.pk, pod_id=self.pod_id, message=message, stream=stream
        )

    def _new_pod(self, spec, events=None):
        """The PodProcess of spec (not started) in a new cgroup, watched for its caps; it becomes self.pod."""
        self.over_ram_seen = False
        self.over_disk_seen = False
        self.recycling = False
        group = self._new_group()
        fsize = self.disk_mib * 1024 * 1024 if self.disk_mib > 0 else None

        def wrap_argv(argv: list[str]) -> list[str]:
            # Joins the group before bwrap runs; no file past the disk cap.
            paths = group.procs_paths() if group is not None else ()
            return control_group.wrap_argv(argv, paths, fsize_bytes=fsize)

        pod = PodProcess(
            spec,
            events or (lambda kind, header: self._on_event(kind, header, pod)),
            self.sandbox,
            wrap_argv=wrap_argv,
        )
        pod.group = group
        self.group = group
        self.disk = DiskWatch(str(self.pod_dir), self.disk_mib)
        self.pod = pod
        return pod

    def _new_group(self) -> control_group.Cgroup | None:
        root = cgroups.root() if settings.CGROUPS_ENABLED else None
        if root is None:
            return None  # said at startup and on /healthz
        max_pids = self.sandbox.max_processes if self.sandbox else DEFAULT_MAX_PIDS
        try:
            return root.unique_child(
                f"pod-{self.pk}", memory_mib=self.ram_mib, pids_max=max_pids
            )
        except OSError as exc:
            logger.warning("pods %s: no cgroup for the pod: %s", self.pk, exc)
            return None

    def _on_event(self, kind: str, header: dict, pod) -> None:
        """From the reader thread of `pod` (an older pod's late events are ignored)."""
        if kind == "exited":
            group = getattr(pod, "group", None)
            if pod is self.pod and group is not None and group.memory:
                # Read before the group goes: the kernel may have killed the
                # pod itself, before the watch thread's next look.
                self.over_ram_seen = self.over_ram_seen or group.oom_kills() > 0
            # Whatever the pod started (a setsid grandchild too) ends with it.
            _destroy(group)
        if pod is not self.pod:
            return
        if kind == "log":
            stream = header.get("stream", "stdout")
            if not self.dispatcher.runs.on_log(
                header.get("id"), stream, header["line"]
            ):
                self._log(header["line"], stream=stream)
        elif kind == "done":
            self.dispatcher.runs.on_done(header["id"], header["report"])
        elif kind == "stats":
            services.pod_update(
                deployment_pk=self.pk, host=self.host, rss_kib=header.get("rss_kib")
            )
        elif kind == "over_ram":
            self.over_ram_seen = True
        elif kind == "exited" and pod.failure is None:
            # A pod that never started is start_pod's to report.
            self._pod_exited(header.get("returncode"))
        if kind != "done":  # a result only wakes its run's thread: no database here
            close_old_connections()

    def _pod_exited(self, returncode) -> None:
        self.up.clear()
        if self.stopping.is_set() or self.failed_reason is not None:
            return
        if self.over_ram_seen:
            how = OVER_RAM.format(ram=self.deployment.ram_request)
        elif self.over_disk_seen:
            how = OVER_DISK.format(mib=self.disk_mib)
        elif self.recycling:
            how = "recycled after an execution ran past its timeout"
        else:
            how = f"exit code {returncode}"
        # The one rule (executions/services/runners.py): queue mode runs
        # it once more, parallel mode ends it Error naming the pod.
        self.dispatcher.runs.pod_died(
            how,
            retryable=self.parallel == 1
            and not self.over_ram_seen
            and not self.over_disk_seen,
        )
        self._log(f"Pod {self.pod_id} stopped ({how}); starting it again.", "stderr")
        Pod.objects.filter(deployment_id=self.pk).update(restarts=F("restarts") + 1)
        services.deployment_status_set(
            deployment_pk=self.pk, status=DeploymentStatus.DOWN_RETRYING
        )

    def check_limits(self, now: float) -> bool:
        """Recycle the pod when its cgroup saw an OOM kill or its folder is past the disk cap; True when it did.

        The kernel kills the largest process of a group over its memory
        limit, often a child: the pod itself would go on, over its request.
        """
        pod, group = self.pod, self.group
        if pod is None or pod.proc is None or self.over_ram_seen or self.over_disk_seen:
            return False
        if group is not None and group.memory and group.oom_kills() > 0:
            self.over_ram_seen = True
        elif self.disk is not None and self.disk.exceeded(now):
            self.over_disk_seen = True
        else:
            return False
        pod.kill()
        if group is not None:
            group.kill_all(wait_s=0)
        return True

    def _watch(self) -> None:
        """Timeouts of sync code: fail the execution, recycle its pod; the pod's memory and disk caps."""
        while not self.stopping.is_set():
            time.sleep(0.1)
            now = time.monotonic()
            self.check_limits(now)
            for item in self.dispatcher.runs.past_deadline(now):
                self.recycling = True
                self._log(
                    RECYCLED.format(
                        execution_id=item.execution.execution_id,
                        seconds=item.execution.timeout_s,
                    ),
                    "stderr",
                )
                pod = self.pod
                if pod is not None:
                    pod.kill()


def _destroy(group: control_group.Cgroup | None) -> None:
    if group is not None and not group.destroy():
        logger.warning("a pod's cgroup was not removed: %s", group.dirs)
