"""The processes that make up a running platform, shared by `runplatform` and the tests."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]  # the repository root
WORKER_CONCURRENCY = int(os.environ.get("PLATFORM_WORKER_CONCURRENCY", "8"))


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: list[str]


def platform_processes(
    *,
    port: int,
    host: str = "127.0.0.1",
    python: str = sys.executable,
    roles: tuple[str, ...] | None = None,
) -> list[ProcessSpec]:
    """The processes of `roles` (platform_site/operations/roles.py; None: every one)."""
    manage = str(BASE_DIR / "manage.py")
    specs = [
        ProcessSpec(
            "web",
            # uvicorn, plus held requests answering at once on SIGTERM.
            [
                python,
                "-m",
                "platform_site.operations.web",
                "--host",
                host,
                "--port",
                str(port),
            ],
        ),
        # Threads, not prefork: executions run in child processes forked from
        # per-pipeline zygotes that the worker keeps in one process.
        ProcessSpec(
            "worker",
            [
                python,
                "-m",
                "celery",
                "-A",
                "platform_site",
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(WORKER_CONCURRENCY),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
        ),
        ProcessSpec("scheduler", [python, manage, "run_scheduler"]),
        ProcessSpec("sweeper", [python, manage, "run_sweeper"]),
        # The pods of low-latency deployments (one pod host per machine).
        ProcessSpec("pods", [python, manage, "run_pods"]),
    ]
    return [spec for spec in specs if roles is None or spec.name in roles]
