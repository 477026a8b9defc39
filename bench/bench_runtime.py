"""Latency of the elastic runtime: ZygotePool.run() against a fresh interpreter.

Usage: .venv/bin/python bench/bench_runtime.py [runs]

Prints p50/p95 of run() wall time (worker asks -> function returned and
reported) for a noop pipeline and one that imports numpy at top level, and as
floors, measured in the same run, the wall time of `python -c pass` and
`python -c "import numpy"` subprocesses. Finishes in well under a minute.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from executions.runtime.pool import RunSpec, ZygotePool  # noqa: E402

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
FLOOR_RUNS = 20
PIPELINES = {
    "noop": "def main():\n    return None\n",
    "import numpy": "import numpy\n\ndef main():\n    return None\n",
}


def _ignore(stream: str, ts: float, line: str) -> None:
    pass


def _spec(root: Path, name: str, source: str) -> RunSpec:
    code_dir = root / name.replace(" ", "_")
    work_dir = code_dir / "work"
    work_dir.mkdir(parents=True)
    (code_dir / "main.py").write_text(source)
    return RunSpec(
        zygote_key=name,
        python_executable=sys.executable,
        code_dir=str(code_dir),
        function_path="main.py",
        function_name="main",
        inputs={},
        outputs=[],
        env={"PATH": "/usr/bin:/bin"},
        work_dir=str(work_dir),
        timeout_s=30,
        memory_limit_mib=1024,
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


def _subprocess_ms(code: str) -> list[float]:
    times = []
    for _ in range(FLOOR_RUNS):
        begin = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((time.perf_counter() - begin) * 1000)
    return times


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, ZygotePool() as pool:
        measured = {
            name: _runs(pool, _spec(Path(tmp), name, source))
            for name, source in PIPELINES.items()
        }
    floors = {
        "noop": _subprocess_ms("pass"),
        "import numpy": _subprocess_ms("import numpy"),
    }

    print(
        f"ZygotePool.run(), {RUNS} runs each after one warm-up; floors: {FLOOR_RUNS} subprocesses"
    )
    print(
        f"{'pipeline':<14}{'run p50':>10}{'run p95':>10}{'fork->fn p50':>14}{'python -c p50':>15}{'floor/run':>11}"
    )
    for name, (walls, starts) in measured.items():
        p50 = statistics.median(walls)
        floor = statistics.median(floors[name])
        print(
            f"{name:<14}{p50:>8.2f}ms{_p95(walls):>8.2f}ms{statistics.median(starts):>12.2f}ms"
            f"{floor:>13.2f}ms{floor / p50:>10.1f}x"
        )
    print(f"python: {sys.executable} ({sys.version.split()[0]})")


if __name__ == "__main__":
    main()
