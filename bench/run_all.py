"""`make bench`: run every bench/bench_*.py in turn and print its figures.

Each script prints its own figures; this only runs them one after another
(they share the machine, so never in parallel), shows each one's output and
wall time, and exits 1 if any of them failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TIMEOUT_S = 15 * 60


def bench_scripts(selected: list[str]) -> list[Path]:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if selected:
        scripts = [s for s in scripts if any(name in s.name for name in selected)]
    return scripts


def run_one(script: Path) -> tuple[int, float]:
    print(f"\n=== {script.relative_to(ROOT)}", flush=True)
    started = time.monotonic()
    try:
        code = subprocess.run(
            [sys.executable, str(script)], cwd=ROOT, timeout=TIMEOUT_S
        ).returncode
    except subprocess.TimeoutExpired:
        print(f"!!! {script.name} ran past {TIMEOUT_S} s", flush=True)
        code = 124
    return code, time.monotonic() - started


def main(argv: list[str]) -> int:
    scripts = bench_scripts(argv)
    if not scripts:
        print("no bench/bench_*.py script to run")
        return 0
    results = [(script, *run_one(script)) for script in scripts]
    print("\n=== summary")
    for script, code, seconds in results:
        state = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"{script.name:<32} {state:<20} {seconds:7.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
