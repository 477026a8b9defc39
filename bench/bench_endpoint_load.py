"""Elastic endpoint throughput under load, against a bare Django view in the same run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/platform \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_endpoint_load.py [--calls 1000]

For each stack (PostgreSQL + Redis as in production; SQLite + the embedded
Redis of a bare `make run`), 20 keep-alive callers send --calls endpoint
calls to an elastic deployment of a no-op function, each one a fresh
execution. The baselines are a bare Django view (bench/bare_urls.py)
computing the same function inline, under the same server (uvicorn through
platform_site.operations.web) and the same client: the strict one with no
middleware under Django's stock handler (the target's), and the gentler one
under the platform's settings and endpoint handler.
Prints calls/s, p50/p99 and errors of both, and the ratio, then where each
execution's CPU went (web, worker, its forked zygote and execution
processes, PostgreSQL, Redis, the load client): the PostgreSQL stack runs on
a cluster and a redis-server of its own (tests/faults/services.py), so
nothing else on the machine is counted.
Targets, on PostgreSQL: ratio >= 0.12 against the strict view, p99 <= 400 ms,
no error, and <= 18 ms of CPU per call in the platform's processes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import percentile  # noqa: E402
from platform_site.operations.processes import BASE_DIR  # noqa: E402
from tests.e2e.live import (  # noqa: E402
    LivePlatform,
    descendants,
    embedded_stack,
    free_port,
)
from tests.faults.drill import Drill, Outcome, burst, drill_stack  # noqa: E402

CONCURRENCY = 20
# Against the strict bare view (no middleware, Django's stock handler), in the same run.
TARGET_RATIO = 0.12
TARGET_P99_MS = 400.0
# The platform's processes (web, worker, zygotes, PostgreSQL, Redis) per call.
TARGET_CPU_MS = 18.0


def cpu_seconds(pid: int) -> float:
    """CPU of a process and of its children that it has reaped."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def cpu_by_part(parts: dict[str, Callable[[], list[int]]]) -> dict[str, float]:
    """Each part names its processes when asked (they come and go with the load)."""
    return {
        name: sum(cpu_seconds(pid) for pid in pids()) for name, pids in parts.items()
    }


def with_descendants(pid: int) -> Callable[[], list[int]]:
    return lambda: [pid, *descendants(pid)]


def measure(
    drill: Drill,
    calls: int,
    warmup: int,
    parts: dict[str, Callable[[], list[int]]] | None = None,
) -> tuple[float, Outcome, dict[str, float]]:
    """calls/s, what the callers saw, and CPU seconds per call of each part."""
    burst(drill, calls=warmup, concurrency=CONCURRENCY)
    parts = parts or {}
    before, client_before = cpu_by_part(parts), time.process_time()
    started = time.perf_counter()
    outcome = burst(drill, calls=calls, concurrency=CONCURRENCY)
    elapsed = time.perf_counter() - started
    after, client_after = cpu_by_part(parts), time.process_time()
    per_call = {name: (after[name] - before[name]) / calls for name in parts}
    per_call["load client"] = (client_after - client_before) / calls
    return calls / elapsed, outcome, per_call


def report(label: str, rate: float, outcome: Outcome) -> tuple[float, float]:
    ms = [s * 1000 for s in outcome.latencies] or [float("nan")]
    errors = sum(n for status, n in outcome.statuses.items() if status != 200)
    p99 = percentile(ms, 0.99)
    print(
        f"  {label:<34} {rate:8.1f} calls/s   p50 {statistics.median(ms):6.1f} ms"
        f"   p99 {p99:6.1f} ms   errors {errors + len(outcome.problems)}"
    )
    return rate, p99


@contextlib.contextmanager
def bare_server(env: dict[str, str], *, strict: bool = False):
    """The baseline: the same web process, settings with only the bare view.

    strict: no middleware at all, Django's stock handler (bench/bare_strict_settings.py); otherwise
    the platform's own for /endpoints/ (bench/bare_settings.py).
    """
    port = free_port()
    settings = "bench.bare_strict_settings" if strict else "bench.bare_settings"
    proc = subprocess.Popen(
        [sys.executable, "-m", "platform_site.operations.web", "--port", str(port)],
        cwd=BASE_DIR,
        env={**env, "DJANGO_SETTINGS_MODULE": settings},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"{url}/endpoints/x", data=b'{"seconds": 0}')
                break
            time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def compare(
    label: str,
    platform: LivePlatform,
    tmp: Path,
    args,
    parts: dict[str, Callable[[], list[int]]] | None = None,
) -> bool:
    drill = Drill(cluster=None, redis=None, platform=platform, tmp=tmp)
    drill.endpoint_of_sleeper()
    print(f"{label}: {args.calls} calls, {CONCURRENCY} concurrent, keep-alive")
    rate, outcome, cpu = measure(drill, args.calls, args.warmup, parts)
    rate, p99 = report("elastic endpoint (fresh execution)", rate, outcome)
    bare_rates = {}
    for strict, name in ((True, "strict"), (False, "platform's settings")):
        with bare_server(platform.env, strict=strict) as url:
            bare = Drill(
                cluster=None,
                redis=None,
                platform=LivePlatform(
                    url=url, env={}, data_dir=tmp, database_url="", log_dir=tmp
                ),
                tmp=tmp,
                endpoint="bare",
                endpoint_token="-",
            )
            bare_rate, bare_outcome, bare_cpu = measure(bare, args.calls, args.warmup)
            bare_rates[name] = bare_rate
            report(f"bare Django view, {name}", bare_rate, bare_outcome)
    ok = p99 <= TARGET_P99_MS and not outcome.problems
    if parts:
        print("  CPU per elastic call (ms):")
        for name, seconds in cpu.items():
            print(f"    {name:<34} {seconds * 1000:6.2f}")
        platform_cpu = sum(s for name, s in cpu.items() if name != "load client")
        print(
            f"    {'total, load client aside':<34} {platform_cpu * 1000:6.2f}"
            f"   (target <= {TARGET_CPU_MS:.0f})"
        )
        print(f"  load client per bare call: {bare_cpu['load client'] * 1000:.2f} ms")
        ok = ok and platform_cpu * 1000 <= TARGET_CPU_MS
    for name, bare_rate in bare_rates.items():
        ratio = rate / bare_rate
        if name == "strict":
            ok = ok and ratio >= TARGET_RATIO
        print(
            f"  ratio elastic / bare ({name}) = {ratio:.3f} (target >= {TARGET_RATIO},"
            " against the strict one)"
        )
    print(
        f"  p99 {p99:.0f} ms (target <= {TARGET_P99_MS:.0f}); "
        f"targets: {'ok' if ok else 'MISSED'}"
    )
    return ok


def postmaster_pid(cluster) -> int:
    return int((cluster.folder / "data" / "postmaster.pid").read_text().split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--stack", choices=("both", "postgresql", "embedded"), default="both"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        if args.stack in ("both", "postgresql"):
            with drill_stack(Path(tmp) / "pg") as stack:
                procs = stack.platform.procs
                worker = procs["worker"].pid
                parts = {
                    "web": with_descendants(procs["web"].pid),
                    "worker (Celery, Django side)": lambda: [worker],
                    "zygotes + execution processes": lambda: list(descendants(worker)),
                    "PostgreSQL": with_descendants(postmaster_pid(stack.cluster)),
                    "Redis": lambda: [stack.redis.proc.pid],
                }
                results.append(
                    compare(
                        "PostgreSQL + Redis", stack.platform, Path(tmp), args, parts
                    )
                )
        if args.stack in ("both", "embedded"):
            with embedded_stack(Path(tmp) / "embedded") as platform:
                compare(
                    "SQLite + embedded Redis (not the target)",
                    platform,
                    Path(tmp),
                    args,
                )
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
