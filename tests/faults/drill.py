"""What every fault drill does: a live stack on its own services, an endpoint, a load, a ledger check."""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit

from craft_ai_sdk import Input, Output

from tests.e2e.live import LivePlatform, start_live_platform
from tests.faults.services import (
    Cluster,
    RedisServer,
    drop_cluster,
    drop_redis,
    start_cluster,
    start_redis,
)

SLEEPER = """
import time

def sleeper(seconds):
    time.sleep(seconds)
    return {"slept": seconds}
"""
FINAL = ("Succeeded", "Failed", "Error", "Skipped")
# Beats every second, so a reaped execution is one whose worker really went silent
# (live.py sets the timeout to 10 s).
DRILL_ENV = {"PLATFORM_HEARTBEAT_INTERVAL_S": "1"}
RETRY_503_FOR_S = 30.0
FOLLOW_FOR_S = 120.0


@dataclass
class Drill:
    cluster: Cluster
    redis: RedisServer
    platform: LivePlatform
    tmp: Path
    endpoint: str = ""
    endpoint_token: str = ""

    @property
    def database(self) -> str:
        return self.platform.database_url.rpartition("/")[2]

    def endpoint_of_sleeper(self, **deployment: object) -> None:
        """A pipeline sleeping its input's seconds, behind an endpoint (elastic unless `deployment` says)."""
        sdk = self.platform.sdk()
        name = f"sleeper-{uuid.uuid4().hex[:6]}"
        folder = self.tmp / name
        folder.mkdir()
        (folder / "main.py").write_text(SLEEPER)
        sdk.create_pipeline(
            pipeline_name=name,
            function_path="main.py",
            function_name="sleeper",
            container_config={"local_folder": str(folder)},
            inputs=[Input("seconds", "number")],
            outputs=[Output("slept", "number")],
        )
        deployment = sdk.create_deployment(
            pipeline_name=name,
            deployment_name=f"{name}-ep",
            execution_rule="endpoint",
            **{"mode": "elastic", **deployment},
        )
        self.endpoint = f"{name}-ep"
        self.endpoint_token = deployment["endpoint_token"]

    def statuses(self) -> dict[str, tuple[str, str | None]]:
        rows = self.platform.sql(
            "SELECT execution_id, status, status_reason FROM executions_execution"
        )
        return {row[0]: (row[1], row[2]) for row in rows}

    def wait_final(self, ids: set[str], *, within_s: float) -> dict[str, tuple]:
        """Bounded polling until every one of `ids` is final; returns every row's status."""
        deadline = time.monotonic() + within_s
        while True:
            statuses = self.statuses()
            if all(statuses.get(i, ("",))[0] in FINAL for i in ids):
                return statuses
            if time.monotonic() > deadline:
                return statuses
            time.sleep(0.25)


@contextlib.contextmanager
def drill_stack(tmp: Path, **env: str) -> Iterator[Drill]:
    """Own PostgreSQL cluster, own redis-server, a live platform on them; all removed after."""
    cluster = start_cluster()
    redis_server = start_redis()
    platform = None
    try:
        with mock.patch.dict(
            "os.environ",
            {"DATABASE_URL": cluster.url, **DRILL_ENV, **env},
        ):
            platform = start_live_platform(tmp / "stack", redis_url=redis_server.url)
        yield Drill(cluster=cluster, redis=redis_server, platform=platform, tmp=tmp)
    finally:
        if platform is not None:
            platform.stop_all()
        drop_redis(redis_server)
        drop_cluster(cluster)


@dataclass
class Outcome:
    """What the callers saw."""

    statuses: Counter = field(default_factory=Counter)
    accepted: set[str] = field(default_factory=set)
    succeeded: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Set when the drill gives up (its deadline, pytest-timeout): callers stop
    # retrying and following, so nothing keeps the test waiting on them.
    stop: threading.Event = field(default_factory=threading.Event)

    def summary(self) -> str:
        return (
            f"answers {dict(sorted(self.statuses.items(), key=str))}, accepted "
            f"{len(self.accepted)}, succeeded {len(self.succeeded)}, "
            f"problems {len(self.problems)}"
        )


class Caller:
    """One keep-alive HTTP client, as a load tool has: POST, 503 retried, 303 followed."""

    def __init__(self, drill: Drill, outcome: Outcome):
        parts = urlsplit(drill.platform.url)
        self.host, self.port = parts.hostname, parts.port
        self.drill = drill
        self.outcome = outcome
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: bytes | None) -> tuple[int, dict]:
        headers = {
            "Authorization": f"EndpointToken {self.drill.endpoint_token}",
            "Content-Type": "application/json",
        }
        for attempt in range(
            2
        ):  # a keep-alive socket the server closed: reconnect once
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=90)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"raw": raw[:200].decode("utf-8", "replace")}
        return response.status, payload

    def call(self, seconds: float = 0) -> None:
        started = time.perf_counter()
        body = json.dumps({"seconds": seconds}).encode()
        path = f"/endpoints/{self.drill.endpoint}"
        deadline = time.monotonic() + RETRY_503_FOR_S
        try:
            status, payload = self.request("POST", path, body)
            while (
                status == 503
                and time.monotonic() < deadline
                and not self.outcome.stop.is_set()
            ):
                with self.outcome.lock:
                    self.outcome.statuses[503] += 1
                time.sleep(0.2)  # Retry-After says 1 s; drills want it sooner
                status, payload = self.request("POST", path, body)
        except OSError as exc:
            self._problem(f"connection failed: {exc}")
            return
        execution_id = payload.get("execution_id") or payload.get(
            "additional_data", {}
        ).get("execution_id")
        with self.outcome.lock:
            # The product's answer for a run that failed is a 500 naming its
            # execution: counted apart from a bare 500, which no drill allows.
            self.outcome.statuses[
                "failed" if failed_run(status, payload) else status
            ] += 1
        if execution_id and (status in (200, 303) or failed_run(status, payload)):
            with self.outcome.lock:
                self.outcome.accepted.add(execution_id)
        else:
            self._problem(f"{status} without execution_id: {payload}")
            return
        if status == 303:
            status, payload = self.follow(path, execution_id)
        if status == 200:
            with self.outcome.lock:
                self.outcome.succeeded.add(execution_id)
                self.outcome.latencies.append(time.perf_counter() - started)

    def follow(self, path: str, execution_id: str) -> tuple[int, dict]:
        """The result route until it answers (it holds, then 307s to itself)."""
        deadline = time.monotonic() + FOLLOW_FOR_S
        status, payload = 0, {}
        while time.monotonic() < deadline and not self.outcome.stop.is_set():
            try:
                status, payload = self.request(
                    "GET",
                    f"/endpoints/v1/{self.drill.endpoint}/executions/{execution_id}",
                    None,
                )
            except OSError:
                time.sleep(0.5)
                continue
            if status not in (307, 503):
                return status, payload
        return status, payload

    def _problem(self, text: str) -> None:
        with self.outcome.lock:
            self.outcome.problems.append(text)


def failed_run(status: int, payload: dict) -> bool:
    return status == 500 and payload.get("name") == "ExecutionFailed"


def burst(
    drill: Drill,
    *,
    calls: int,
    concurrency: int,
    seconds: float = 0,
    during=None,
    outcome: Outcome | None = None,
    within_s: float | None = None,
) -> Outcome:
    """`calls` endpoint calls from `concurrency` keep-alive callers; `during(outcome)` runs alongside.

    Past `within_s` (if given) the callers are told to stop and BurstTimeout
    says what was left. Whatever interrupts the wait (pytest-timeout's
    exception included) stops the callers too, and the test goes on to its
    teardown at once instead of joining callers that may wait for minutes.
    """
    outcome = outcome or Outcome()
    per_caller = [
        calls // concurrency + (i < calls % concurrency) for i in range(concurrency)
    ]

    def caller_loop(count: int) -> None:
        caller = Caller(drill, outcome)
        for _ in range(count):
            if outcome.stop.is_set():
                return
            caller.call(seconds)

    pool = ThreadPoolExecutor(max_workers=concurrency + 1)
    finished = False
    try:
        fault = pool.submit(during, outcome) if during else None
        futures = [pool.submit(caller_loop, n) for n in per_caller]
        _, pending = concurrent.futures.wait(
            [*futures, *([fault] if fault else [])], timeout=within_s
        )
        if pending:
            raise BurstTimeout(
                f"the burst of {calls} calls did not finish within {within_s:.0f} s: "
                f"{outcome.summary()}; {len(pending)} of {len(futures) + bool(fault)} "
                f"threads still busy; processes' exit codes "
                f"{exit_codes(drill)}; logs in {drill.platform.log_dir}"
            )
        for future in futures:
            future.result()
        if fault is not None:
            fault.result()
        finished = True
    finally:
        if not finished:
            outcome.stop.set()
        pool.shutdown(wait=finished, cancel_futures=True)
    return outcome


def exit_codes(drill: Drill) -> dict[str, int | None]:
    """Each platform process's exit code (None: still running)."""
    return {name: proc.poll() for name, proc in drill.platform.procs.items()}


class BurstTimeout(AssertionError):
    """A burst that did not finish in time: a stuck stack, reported as a test failure."""


def wait_until(predicate, *, within_s: float, every_s: float = 0.05) -> bool:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)
    return True
