"""Elastic execution latency: run request -> Succeeded, on a live stack started for the bench.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/platform \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_elastic.py [--runs 100]

Measures, for a no-op pipeline and one whose module imports numpy at top level,
the wall time from `POST /api/v1/pipelines/{name}/run` to the 200 of
`GET /executions/{id}/outputs?wait_for_completion=true` (which holds until
done), over a keep-alive session. Prints p50/p95, the floors of a bare
interpreter start (`python -c pass`, `python -c "import numpy"`) measured in
the same run, the ratios, and the per-stage breakdown from the timeline fields.
Target: p50 <= 35 ms for both pipelines.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.figures import percentile  # noqa: E402
from tests.e2e.live import LivePlatform, drop_live_platform, start_live_platform  # noqa: E402

PIPELINES = {
    "noop": "def run():\n    return {}\n",
    "numpy": "import numpy\n\n\ndef run():\n    return {}\n",
}
# The SDK's run_pipeline of a no-op before the sandbox (32 ms), give or take.
TARGET_P50_MS = 35.0
STAGES = (
    ("queued -> claimed", "created_at", "started_at"),
    ("claimed -> process", "started_at", "process_started_at"),
    ("process -> function", "process_started_at", "function_started_at"),
    ("function", "function_started_at", "function_ended_at"),
    ("function end -> stored", "function_ended_at", "end_date"),
)


def floor_ms(code: str, repeat: int = 20) -> float:
    """Median wall time of a fresh interpreter running `code`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def create_pipelines(platform: LivePlatform, root: Path) -> dict[str, str]:
    sdk = platform.sdk()
    names = {}
    for kind, code in PIPELINES.items():
        name = f"bench-{kind}-{uuid.uuid4().hex[:6]}"
        folder = root / name
        folder.mkdir()
        (folder / "main.py").write_text(textwrap.dedent(code))
        sdk.create_pipeline(
            pipeline_name=name,
            function_path="main.py",
            function_name="run",
            container_config={"local_folder": str(folder)},
        )
        names[kind] = name
    return names


def api_session(platform: LivePlatform) -> requests.Session:
    session = requests.Session()
    refreshed = session.post(
        f"{platform.url}/api/v1/auth/refresh",
        json={"refresh_token": platform.sdk_token},
        timeout=30,
    )
    refreshed.raise_for_status()
    session.headers["Authorization"] = f"Bearer {refreshed.json()['access_token']}"
    return session


def run_once(session: requests.Session, url: str, name: str) -> tuple[float, str]:
    start = time.perf_counter()
    response = session.post(
        f"{url}/api/v1/pipelines/{name}/run", data={"json_inputs": "{}"}, timeout=60
    )
    response.raise_for_status()
    execution_id = response.json()["execution_id"]
    outputs_url = (
        f"{url}/api/v1/executions/{execution_id}/outputs?wait_for_completion=true"
    )
    while True:
        result = session.get(outputs_url, allow_redirects=False, timeout=60)
        if result.status_code != 307:
            break
    if result.status_code != 200:
        raise RuntimeError(f"{execution_id}: {result.status_code} {result.text}")
    return (time.perf_counter() - start) * 1000, execution_id


def stage_breakdown(platform: LivePlatform, execution_ids: list[str]) -> list[str]:
    rows = platform.sql(
        "SELECT created_at, started_at, process_started_at, function_started_at,"
        " function_ended_at, end_date FROM executions_execution"
        " WHERE execution_id = ANY(%s)",
        execution_ids,
    )
    columns = [
        "created_at",
        "started_at",
        "process_started_at",
        "function_started_at",
        "function_ended_at",
        "end_date",
    ]
    lines = []
    for label, start, end in STAGES:
        i, j = columns.index(start), columns.index(end)
        values = [
            (row[j] - row[i]).total_seconds() * 1000
            for row in rows
            if row[i] is not None and row[j] is not None
        ]
        if values:
            lines.append(
                f"    {label:<24} p50 {statistics.median(values):7.1f} ms"
                f"   p95 {percentile(values, 0.95):7.1f} ms"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    floors = {
        "noop": floor_ms("pass"),
        "numpy": floor_ms("import numpy"),
    }
    with tempfile.TemporaryDirectory(prefix="bench-elastic-") as tmp:
        platform = start_live_platform(Path(tmp))
        try:
            names = create_pipelines(platform, Path(tmp))
            session = api_session(platform)
            print(
                f"elastic runs: {args.runs} per pipeline after {args.warmup} warm-up runs"
            )
            failed = False
            for kind, name in names.items():
                for _ in range(args.warmup):
                    run_once(session, platform.url, name)
                timings, ids = [], []
                for _ in range(args.runs):
                    elapsed, execution_id = run_once(session, platform.url, name)
                    timings.append(elapsed)
                    ids.append(execution_id)
                p50, p95 = statistics.median(timings), percentile(timings, 0.95)
                floor = floors[kind]
                verdict = "ok" if p50 <= TARGET_P50_MS else "OVER TARGET"
                failed = failed or p50 > TARGET_P50_MS
                print(
                    f"  {kind:<6} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
                    f"(target p50 <= {TARGET_P50_MS:.0f} ms: {verdict})"
                )
                print(
                    f"         floor: fresh `python -c {'pass' if kind == 'noop' else 'import numpy'}`"
                    f" {floor:7.1f} ms; p50 / floor = {p50 / floor:.2f}"
                )
                print("    stages (from the execution timeline):")
                for line in stage_breakdown(platform, ids):
                    print(line)
        finally:
            drop_live_platform(platform)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
