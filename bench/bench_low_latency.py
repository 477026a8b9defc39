"""Low-latency endpoints against elastic ones and a bare Django view, in one run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/platform \\
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_low_latency.py

For each stack (PostgreSQL + Redis of their own; SQLite + the embedded Redis
of a bare `make run`), a no-op pipeline (`sleeper(0)`) is deployed three
times: low latency in queue mode, low latency in parallel mode (6 per pod),
elastic. Every call is a recorded execution (status, inputs, outputs,
timings). Measured by the same keep-alive client (tests/faults/drill.py):

- sequential calls from one client: p50/p99 end to end, low latency
  beside elastic and two bare Django views computing the same function
  inline on the same server: the strict one with no middleware at all,
  under Django's stock ASGI handler (bench/bare_strict_settings.py, the
  target's baseline), and the gentler one under the platform's settings
  and its own endpoint handler;
- 20 concurrent clients: calls/s of the parallel low-latency endpoint
  against the same bare views, and its CPU per call by process.

Targets, against the strict bare view: p50 <= 4x, p99 <= 5x, calls/s at
20 callers >= 0.5x, no error.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from craft_ai_sdk.io import Input, Output  # noqa: E402

from bench.bench_endpoint_load import (  # noqa: E402
    bare_server,
    cpu_by_part,
    postmaster_pid,
    with_descendants,
)
from bench.figures import percentile  # noqa: E402
from tests.e2e.live import LivePlatform, descendants, embedded_stack  # noqa: E402
from tests.faults.drill import SLEEPER, Caller, Drill, Outcome, burst, drill_stack  # noqa: E402

CONCURRENCY = 20
# Against the strict bare view (no middleware), in the same run.
TARGET_P50_RATIO = 4.0
TARGET_P99_RATIO = 5.0
TARGET_RATE_RATIO = 0.5


def deploy(platform: LivePlatform, tmp: Path) -> dict[str, Drill]:
    """The sleeper pipeline behind three endpoints: name -> a Drill aimed at it."""
    sdk = platform.sdk()
    name = f"noop-{uuid.uuid4().hex[:6]}"
    folder = tmp / name
    folder.mkdir(parents=True)
    (folder / "main.py").write_text(SLEEPER)
    sdk.create_pipeline(
        pipeline_name=name,
        function_path="main.py",
        function_name="sleeper",
        container_config={"local_folder": str(folder)},
        inputs=[Input("seconds", "number")],
        outputs=[Output("slept", "number")],
    )
    kinds = {
        "low latency, queue": {"mode": "low_latency"},
        "low latency, parallel 6": {
            "mode": "low_latency",
            "enable_parallel_executions": True,
            "max_parallel_executions_per_pod": 6,
        },
        "elastic": {"mode": "elastic"},
    }
    drills = {}
    for label, settings in kinds.items():
        deployment = sdk.create_deployment(
            pipeline_name=name,
            deployment_name=f"{name}-{len(drills)}",
            execution_rule="endpoint",
            **settings,
        )
        drills[label] = Drill(
            cluster=None,
            redis=None,
            platform=platform,
            tmp=tmp,
            endpoint=deployment["endpoint_url_path"],
            endpoint_token=deployment["endpoint_token"],
        )
    return drills


def sequential(drill: Drill, calls: int) -> Outcome:
    outcome = Outcome()
    caller = Caller(drill, outcome)
    for _ in range(max(10, calls // 10)):  # warm: connection, pod, caches
        caller.call(0)
    outcome = Outcome()
    caller.outcome = outcome
    for _ in range(calls):
        caller.call(0)
    return outcome


def line(
    label: str, outcome: Outcome, rate: float | None = None
) -> tuple[float, float]:
    ms = [s * 1000 for s in outcome.latencies] or [float("nan")]
    p50, p99 = statistics.median(ms), percentile(ms, 0.99)
    errors = sum(n for status, n in outcome.statuses.items() if status != 200)
    errors += len(outcome.problems)
    shown = f"{rate:8.1f} calls/s " if rate is not None else ""
    print(
        f"  {label:<34} {shown}p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
        f"calls {len(ms)}   errors {errors}"
    )
    if outcome.problems or errors:
        print(
            f"    answers {dict(outcome.statuses)}; first problem: {outcome.problems[:1]}"
        )
    return p50, p99


def concurrent(
    drill: Drill, calls: int, parts: dict[str, Callable[[], list[int]]] | None = None
) -> tuple[float, Outcome, dict[str, float]]:
    """calls/s, what the callers saw, and the CPU of each of `parts` per call (ms)."""
    burst(drill, calls=CONCURRENCY * 5, concurrency=CONCURRENCY)
    parts = parts or {}
    before = cpu_by_part(parts)
    started = time.perf_counter()
    outcome = burst(drill, calls=calls, concurrency=CONCURRENCY)
    rate = calls / (time.perf_counter() - started)
    after = cpu_by_part(parts)
    cpu = {name: (after[name] - before[name]) * 1000 / calls for name in parts}
    return rate, outcome, cpu


def platform_parts(postmaster: int | None) -> dict[str, Callable[[], list[int]]]:
    """The processes of the stack under test, by what they run (they come and go)."""

    def running(*marks: str) -> Callable[[], list[int]]:
        def pids() -> list[int]:
            found = []
            for pid in descendants(os.getpid()):
                try:
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes()
                except OSError:
                    continue
                if any(mark.encode() in argv for mark in marks):
                    found.append(pid)
            return found

        return pids

    parts = {
        "web": running("platform_site.operations.web"),
        "pod host": running("run_pods"),
        "pods": running("runtime/pod.py"),
        "Redis": running("redis-server"),
    }
    if postmaster is not None:
        parts["PostgreSQL"] = with_descendants(postmaster)
    return parts


def bare_drill(url: str, tmp: Path) -> Drill:
    return Drill(
        cluster=None,
        redis=None,
        platform=LivePlatform(
            url=url, env={}, data_dir=tmp, database_url="", log_dir=tmp
        ),
        tmp=tmp,
        endpoint="bare",
        endpoint_token="-",
    )


def compare(
    label: str,
    platform: LivePlatform,
    tmp: Path,
    args,
    parts: dict[str, Callable[[], list[int]]],
) -> bool:
    drills = deploy(platform, tmp)
    print(f"{label}: sequential calls from one keep-alive client")
    queue = sequential(drills["low latency, queue"], args.calls)
    p50, p99 = line("low latency, queue", queue)
    line(
        "low latency, parallel 6",
        sequential(drills["low latency, parallel 6"], args.calls),
    )
    line("elastic", sequential(drills["elastic"], max(50, args.calls // 5)))
    bare = {}
    for strict, name in ((True, "strict"), (False, "platform's settings")):
        with bare_server(platform.env, strict=strict) as url:
            drill = bare_drill(url, tmp)
            seq = line(f"bare view, {name}", sequential(drill, args.calls))
            rate, outcome, _ = concurrent(drill, args.load_calls)
            bare[name] = (seq, rate, outcome)
    print(f"{label}: {args.load_calls} calls from {CONCURRENCY} concurrent clients")
    rate, outcome, cpu = concurrent(
        drills["low latency, parallel 6"], args.load_calls, parts
    )
    line("low latency, parallel 6", outcome, rate)
    shares = ", ".join(f"{name} {ms:.2f}" for name, ms in cpu.items())
    print(f"    CPU per call (ms): {shares}; in all {sum(cpu.values()):.2f}")
    for name, (_, bare_rate, bare_outcome) in bare.items():
        line(f"bare view, {name}", bare_outcome, bare_rate)
    elastic_rate, elastic_outcome, _ = concurrent(
        drills["elastic"], args.load_calls // 2
    )
    line("elastic", elastic_outcome, elastic_rate)
    errors = len(outcome.problems) + sum(
        n for status, n in outcome.statuses.items() if status != 200
    )
    ok = not errors
    for name, ((bare_p50, bare_p99), bare_rate, _) in bare.items():
        ratios = (p50 / bare_p50, p99 / bare_p99, rate / bare_rate)
        met = (
            ratios[0] <= TARGET_P50_RATIO
            and ratios[1] <= TARGET_P99_RATIO
            and ratios[2] >= TARGET_RATE_RATIO
        )
        if name == "strict":
            ok = ok and met
        print(
            f"  against the bare view ({name}): p50 {ratios[0]:.2f}x "
            f"(target <= {TARGET_P50_RATIO}), p99 {ratios[1]:.2f}x "
            f"(<= {TARGET_P99_RATIO}), calls/s {ratios[2]:.3f}x "
            f"(>= {TARGET_RATE_RATIO}); elastic calls/s {elastic_rate / bare_rate:.3f}x"
            f": {'ok' if met else 'MISSED'}"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--load-calls", type=int, default=2000)
    parser.add_argument(
        "--stack", choices=("both", "postgresql", "embedded"), default="both"
    )
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-ll-") as tmp:
        if args.stack in ("both", "postgresql"):
            with drill_stack(Path(tmp) / "pg") as stack:
                results.append(
                    compare(
                        "PostgreSQL + Redis",
                        stack.platform,
                        Path(tmp) / "pg",
                        args,
                        platform_parts(postmaster_pid(stack.cluster)),
                    )
                )
        if args.stack in ("both", "embedded"):
            with embedded_stack(Path(tmp) / "embedded") as platform:
                results.append(
                    compare(
                        "SQLite + embedded Redis",
                        platform,
                        Path(tmp) / "embedded",
                        args,
                        platform_parts(None),
                    )
                )
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
