"""What this machine offers pods: GPUs and memory. Framework-free."""

from __future__ import annotations

import os
import shutil
import subprocess

PROC_GPUS = "/proc/driver/nvidia/gpus"


def gpu_count() -> int:
    """NVIDIA GPUs of this machine (`nvidia-smi -L`, else the driver's /proc entries); 0 without any."""
    tool = shutil.which("nvidia-smi")
    if tool:
        try:
            done = subprocess.run(
                [tool, "-L"], capture_output=True, text=True, timeout=10
            )
            if done.returncode == 0:
                return sum(
                    1 for line in done.stdout.splitlines() if line.startswith("GPU ")
                )
        except (OSError, subprocess.TimeoutExpired):
            pass  # fall back on the driver's listing
    try:
        return len(os.listdir(PROC_GPUS))
    except OSError:
        return 0


class GpuSlots:
    """The GPUs of this machine, handed out so that two pods never share one."""

    def __init__(self, count: int) -> None:
        self.total = count
        self.free = set(range(count))

    def take(self, wanted: int) -> list[int] | None:
        """`wanted` GPU indices, or None when fewer are free."""
        if wanted > len(self.free):
            return None
        chosen = sorted(self.free)[:wanted]
        self.free.difference_update(chosen)
        return chosen

    def give_back(self, gpus: list[int]) -> None:
        self.free.update(gpus)


def memory_total_mib() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass  # no procfs
    return None
