"""Latency of the elastic runtime: ZygotePool.run() against a fresh interpreter.

Usage: .venv/bin/python bench/bench_runtime.py [runs]

Prints p50/p95 of run() wall time (worker asks -> function returned and
reported) for a noop pipeline and one that imports numpy at top level, with
and without the bubblewrap sandbox (its network the host's, or egress
only: a namespace of its own with slirp4netns), and as floors, measured in the same run,
the wall time of `python -c pass` and `python -c "import numpy"`
subprocesses. Then the zygote start (first run of a new pipeline: sandbox
set-up, interpreter, import, one run) with and without the sandbox.
Last, the cost of a cgroup per execution: run() p50 of the noop pipeline
with cgroups off, on without a spare child (the child joins its group at
run time) and on with one (execution_groups.py), back to back and with a
pause between runs as requests arrive (the kernel's first cgroup move after
a pause waits ~15 ms for an RCU grace period), rounds interleaved.
Finishes in about a minute.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from runtime import sandbox_network  # noqa: E402
from runtime.pool import ZygotePool  # noqa: E402
from runtime.run_spec import RunSpec  # noqa: E402
from runtime.sandbox import Sandbox, base_python  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
FLOOR_RUNS = 20
ZYGOTE_STARTS = 10
CGROUP_RUNS = 60
CGROUP_ROUNDS = 3
PAUSE_S = 0.03
CGROUP_MODES = {
    "off": {"use_cgroups": False},
    "on, no spare": {"use_spares": False},
    "on, spare": {},
}
PIPELINES = {
    "noop": "def main():\n    return None\n",
    "import numpy": "import numpy\n\ndef main():\n    return None\n",
}


def _ignore(stream: str, ts: float, line: str) -> None:
    pass


def _spec(root: Path, name: str, source: str) -> RunSpec:
    code_dir = root / name.replace(" ", "_") / "code"
    work_dir = code_dir.parent / "runs" / "work"
    work_dir.mkdir(parents=True)
    code_dir.mkdir()
    (code_dir / "main.py").write_text(source)
    return RunSpec(
        zygote_key=name,
        python_executable=base_python(),
        code_dir=str(code_dir),
        function_path="main.py",
        function_name="main",
        inputs={},
        outputs=[],
        env={"PATH": "/usr/bin:/bin"},
        work_dir=str(work_dir),
        timeout_s=30,
        memory_limit_mib=1024,
        work_root=str(work_dir.parent),
    )


def _runs(pool: ZygotePool, spec: RunSpec) -> tuple[list[float], list[float]]:
    """Wall times of run() and child-start-to-function-start times, in ms."""
    result = pool.run(spec, _ignore)  # warm-up: starts the zygote
    assert result.status == "succeeded", result.reason
    walls, starts = [], []
    for _ in range(RUNS):
        begin = time.perf_counter()
        result = pool.run(spec, _ignore)
        walls.append((time.perf_counter() - begin) * 1000)
        assert result.status == "succeeded", result.reason
        starts.append((result.function_started_at - result.process_started_at) * 1000)
    return walls, starts


def _subprocess_ms(python: str, code: str) -> list[float]:
    times = []
    for _ in range(FLOOR_RUNS):
        begin = time.perf_counter()
        subprocess.run([python, "-c", code], check=True)
        times.append((time.perf_counter() - begin) * 1000)
    return times


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def _zygote_start_ms(spec: RunSpec, sandbox: Sandbox | None) -> list[float]:
    """Wall time of the first run on a fresh pool: the zygote starts, imports, forks once."""
    times = []
    for _ in range(ZYGOTE_STARTS):
        with ZygotePool(sandbox=sandbox) as pool:
            begin = time.perf_counter()
            result = pool.run(spec, _ignore)
            times.append((time.perf_counter() - begin) * 1000)
            assert result.status == "succeeded", result.reason
    return times


def _cgroup_p50s(spec: RunSpec, sandbox: Sandbox | None) -> dict:
    """{(mode, pause_s): [p50 of each round]} of run() in ms, modes and pauses interleaved."""
    found: dict = {}
    for _ in range(CGROUP_ROUNDS):
        for pause in (0.0, PAUSE_S):
            for mode, options in CGROUP_MODES.items():
                with ZygotePool(sandbox=sandbox, **options) as pool:
                    pool.warm(spec)
                    walls = []
                    for _ in range(CGROUP_RUNS):
                        time.sleep(pause)
                        begin = time.perf_counter()
                        result = pool.run(spec, _ignore)
                        walls.append((time.perf_counter() - begin) * 1000)
                        assert result.status == "succeeded", result.reason
                found.setdefault((mode, pause), []).append(statistics.median(walls))
    return found


def _print_cgroup_costs(costs: dict) -> None:
    print(
        f"\ncgroup per execution: noop run() p50, median of {CGROUP_ROUNDS} rounds "
        f"of {CGROUP_RUNS} runs (interleaved)"
    )
    for sandbox_mode, found in costs.items():
        for pause in (0.0, PAUSE_S):
            off = statistics.median(found[("off", pause)])
            line = f"{sandbox_mode:<6}pause {pause * 1000:>3.0f}ms  off {off:6.2f}ms"
            for mode in list(CGROUP_MODES)[1:]:
                p50 = statistics.median(found[(mode, pause)])
                line += f"   {mode} {p50:6.2f}ms ({p50 / off:.2f}x)"
            print(line)


def main() -> None:
    modes = {"bare": None, "host": Sandbox(network="host")}
    if sandbox_network.tool_problem() is None:
        modes["egress"] = Sandbox(network="egress")
    with tempfile.TemporaryDirectory() as tmp:
        specs = {
            name: _spec(Path(tmp), name, source) for name, source in PIPELINES.items()
        }
        measured = {}
        for mode, sandbox in modes.items():
            with ZygotePool(sandbox=sandbox) as pool:
                for name, spec in specs.items():
                    measured[(name, mode)] = _runs(pool, spec)
        starts = {
            (name, mode): _zygote_start_ms(spec, sandbox)
            for mode, sandbox in modes.items()
            for name, spec in specs.items()
        }
        cgroup_costs = {
            mode: _cgroup_p50s(specs["noop"], modes[mode]) for mode in ("bare", "host")
        }
    python = base_python()
    floors = {
        "noop": _subprocess_ms(python, "pass"),
        "import numpy": _subprocess_ms(python, "import numpy"),
    }

    print(
        f"ZygotePool.run(), {RUNS} runs each after one warm-up; floors: {FLOOR_RUNS} subprocesses"
    )
    print(
        f"{'pipeline':<14}{'mode':<9}{'run p50':>10}{'run p95':>10}{'fork->fn p50':>14}"
        f"{'python -c p50':>15}{'floor/run':>11}"
    )
    for (name, mode), (walls, fn_starts) in measured.items():
        p50 = statistics.median(walls)
        floor = statistics.median(floors[name])
        print(
            f"{name:<14}{mode:<9}{p50:>8.2f}ms{_p95(walls):>8.2f}ms"
            f"{statistics.median(fn_starts):>12.2f}ms{floor:>13.2f}ms{floor / p50:>10.1f}x"
        )
    print(f"\nzygote start (first run on a fresh pool), median of {ZYGOTE_STARTS}")
    for name in PIPELINES:
        bare = statistics.median(starts[(name, "bare")])
        line = f"{name:<14}bare {bare:>7.1f}ms"
        for mode in list(modes)[1:]:
            boxed = statistics.median(starts[(name, mode)])
            line += f"   {mode} {boxed:>7.1f}ms ({boxed / bare:.2f}x)"
        print(line)
    _print_cgroup_costs(cgroup_costs)
    print(f"python: {python} ({sys.version.split()[0]})")


if __name__ == "__main__":
    main()
