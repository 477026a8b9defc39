"""The rlimits of an execution's process, and the virtual size its memory limit is measured from.

Without a cgroup they are the only bounds on memory; with one they still cap
CPU time, a single file (the disk cap) and the number of processes (X10).
Loaded by zygote.py and pod.py as a plain file under a private name; runs
under any Python >= 3.8, standard library only.
"""

from __future__ import annotations

import resource

MIB = 1024 * 1024
# Bounds against a runaway execution (X10); the wall-clock limit is the pool's.
MAX_FILE_BYTES = 4 * 1024 * MIB
MAX_PROCESSES = 4096


def apply_limits(
    memory_mib: int, cpu_s: float | None = None, disk_mib: int = 0
) -> None:
    """rlimits of the execution; memory_mib 0 where its cgroup counts the memory instead."""
    _lower_limit(resource.RLIMIT_CORE, 0)
    if cpu_s:
        _lower_limit(resource.RLIMIT_CPU, int(cpu_s))
    # No single file past the disk cap, not even one unlinked while open
    # (the cap's walk of the folder cannot see those).
    max_file = min(MAX_FILE_BYTES, disk_mib * MIB) if disk_mib > 0 else MAX_FILE_BYTES
    _lower_limit(resource.RLIMIT_FSIZE, max_file)
    if hasattr(resource, "RLIMIT_NPROC"):
        _lower_limit(resource.RLIMIT_NPROC, MAX_PROCESSES)
    if memory_mib > 0:
        # Relative to what the zygote already maps: numpy alone reserves
        # hundreds of MiB of address space it never touches.
        baseline = vm_size_bytes()
        if baseline is not None:
            _lower_limit(resource.RLIMIT_AS, baseline + memory_mib * MIB)


def _lower_limit(which: int, value: int) -> None:
    soft, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    if soft == resource.RLIM_INFINITY or value < soft:
        # Hard limit too, so user code cannot raise it back.
        resource.setrlimit(which, (value, value))


def vm_size_bytes() -> int | None:
    """This process's virtual size (VmSize); None without procfs."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[0]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None  # no procfs: no address-space limit
