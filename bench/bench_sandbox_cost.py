"""What the sandbox's network namespace and cgroups cost an elastic execution, measured in one run.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/platform \
    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/bench_sandbox_cost.py [--runs 100]

Starts four live stacks side by side, one per configuration (the default:
egress network namespace and a cgroup per execution; the host's network;
no cgroups; neither), and times a no-op pipeline's run request -> Succeeded
on each, round-robin, one request at a time, so every configuration sees
the same machine. Prints p50/p95 per configuration and its ratio to
"neither" (the sandbox as it was before both), and the cost of each part.
Target (issue: the sandbox, second round): the default within 10 % of
"neither".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_elastic import api_session, create_pipelines, run_once  # noqa: E402
from bench.figures import percentile  # noqa: E402
from tests.e2e.live import drop_live_platform, start_live_platform  # noqa: E402

CONFIGS = {
    "default (egress + cgroups)": {},
    "host network": {"PLATFORM_SANDBOX_NETWORK": "host"},
    "no cgroups": {"PLATFORM_CGROUPS": "off"},
    "neither": {"PLATFORM_SANDBOX_NETWORK": "host", "PLATFORM_CGROUPS": "off"},
}
BASELINE = "neither"
TARGET_RATIO = 1.10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        stacks = {}
        try:
            for n, (label, env) in enumerate(CONFIGS.items()):
                with mock.patch.dict("os.environ", env):
                    platform = start_live_platform(Path(tmp) / f"stack{n}")
                stacks[label] = platform
            targets = {}
            for label, platform in stacks.items():
                name = create_pipelines(platform, Path(tmp))
                targets[label] = (platform, api_session(platform), name["noop"])
            for _ in range(args.warmup):
                for platform, session, name in targets.values():
                    run_once(session, platform.url, name)
            timings = {label: [] for label in targets}
            for _ in range(args.runs):
                for label, (platform, session, name) in targets.items():
                    timings[label].append(run_once(session, platform.url, name)[0])
        finally:
            for platform in stacks.values():
                drop_live_platform(platform)

    p50 = {label: statistics.median(values) for label, values in timings.items()}
    base = p50[BASELINE]
    print(
        f"elastic no-op, run request -> Succeeded, {args.runs} runs each, round-robin"
    )
    for label, values in timings.items():
        print(
            f"  {label:<28} p50 {p50[label]:7.1f} ms  p95 "
            f"{percentile(values, 0.95):7.1f} ms  ({p50[label] / base:.2f}x {BASELINE})"
        )
    print(
        f"  cost of the network namespace: {p50['no cgroups'] - base:+.1f} ms; "
        f"of the cgroups: {p50['host network'] - base:+.1f} ms"
    )
    ratio = p50["default (egress + cgroups)"] / base
    verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
    print(f"  default / {BASELINE} = {ratio:.2f} (target <= {TARGET_RATIO}: {verdict})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
