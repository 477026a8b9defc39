"""A live platform (web server, Celery worker, scheduler, sweeper) for end-to-end tests.

It runs on its own PostgreSQL database and Redis database number, with a
temporary data dir, exactly as `make run` starts it.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from craft_ai_sdk import CraftAiSdk

from platform_site.operations.processes import BASE_DIR, platform_processes

ARTIFACTS = BASE_DIR / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (the launcher's children are in their own sessions)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def healthz(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def admin_dsn(database_url: str) -> str:
    """The same server, connected to the maintenance database."""
    base, _, _ = database_url.rpartition("/")
    return f"{base}/postgres"


@dataclass
class LivePlatform:
    url: str
    env: dict[str, str]
    data_dir: Path
    database_url: str
    log_dir: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    sdk_token: str = ""

    # -- processes -------------------------------------------------------
    def start(self, name: str) -> None:
        spec = next(
            s
            for s in platform_processes(port=int(self.url.rsplit(":", 1)[1]))
            if s.name == name
        )
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open by the child
        self.procs[name] = subprocess.Popen(
            spec.argv,
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything in its session (children included)."""
        self.stop(name, sig=signal.SIGKILL)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    # -- helpers ---------------------------------------------------------
    def manage(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, str(BASE_DIR / "manage.py"), *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout

    def new_sdk_token(self, username: str = "alice") -> str:
        return self.manage("create_sdk_token", username).strip().splitlines()[-1]

    def sdk(self, token: str | None = None) -> CraftAiSdk:
        return CraftAiSdk(
            sdk_token=token or self.sdk_token,
            environment_url=self.url,
            control_url=self.url,
            verbose_log=False,
        )

    def wait_healthy(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as resp:
                    if resp.status == 200:
                        return {"status": 200}
            except OSError as exc:
                last = exc
            time.sleep(0.25)
        raise RuntimeError(
            f"platform not healthy after {timeout}s: {last}; see {self.log_dir}"
        )

    def sql(self, query: str, *params) -> list[tuple]:
        """Read the platform's database directly (for assertions only); %s placeholders."""
        if not self.database_url:  # the embedded default: SQLite in the data dir
            uri = f"file:{self.data_dir / 'platform.sqlite3'}?mode=ro"
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as conn:
                return conn.execute(query.replace("%s", "?"), params).fetchall()
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []


@contextlib.contextmanager
def embedded_stack(tmp: Path) -> Iterator[LivePlatform]:
    """`make run` as a first-time user has it: SQLite and the embedded Redis, admin's SDK token."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env.update(
        PLATFORM_DATA_DIR=str(tmp / "data"),
        PORT=str(port),
        PLATFORM_ADMIN_PASSWORD="embedded-password-1234",
        PYTHONUNBUFFERED="1",
    )
    proc = subprocess.Popen(
        [sys.executable, str(BASE_DIR / "manage.py"), "runplatform"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                if healthz(url)[0] == 200:
                    break
            time.sleep(0.5)
        platform = LivePlatform(
            url=url, env=env, data_dir=tmp / "data", database_url="", log_dir=tmp
        )
        platform.sdk_token = platform.new_sdk_token("admin")
        yield platform
    finally:
        for pid in descendants(proc.pid) | {proc.pid}:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        proc.wait(15)


def start_live_platform(tmp_root: Path, redis_url: str | None = None) -> LivePlatform:
    """A stack on a fresh database; redis_url: a Redis of the caller's (else a database of REDIS_URL's)."""
    base_url = os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/platform"
    )
    if not base_url.startswith("postgres"):
        raise RuntimeError("end-to-end tests need DATABASE_URL pointing at PostgreSQL")
    db_name = f"platform_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    database_url = f"{base_url.rpartition('/')[0]}/{db_name}"

    if redis_url is None:
        redis_url = claim_redis_db()
    else:
        redis.Redis.from_url(redis_url).flushdb()

    data_dir = tmp_root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir = ARTIFACTS / "e2e-logs" / db_name
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PLATFORM_DATA_DIR": str(data_dir),
        "PLATFORM_HEARTBEAT_TIMEOUT_S": "10",
        "PLATFORM_QUEUE": f"platform-{db_name}",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    port = free_port()
    # Signed and file URLs are built from the public URL, not the Host header.
    env["PLATFORM_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    platform = LivePlatform(
        url=f"http://127.0.0.1:{port}",
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        log_dir=log_dir,
    )
    platform.manage("migrate", "--noinput")
    platform.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; get_user_model().objects.create_user('alice', 'alice@example.org', 'password-alice')",
    )
    platform.sdk_token = platform.new_sdk_token("alice")
    for spec in platform_processes(port=port):
        platform.start(spec.name)
    try:
        platform.wait_healthy()
    except BaseException:
        platform.stop_all()  # no caller gets the platform to stop: never leave it running
        raise
    return platform


# Set in a Redis database a live stack uses: no other stack takes it meanwhile.
CLAIM_KEY = "platform:tests:claimed-by"
CLAIM_S = 3600


def claim_redis_db() -> str:
    """A Redis database of its own (1-15 of REDIS_URL's server), emptied.

    Concurrent live stacks must not steal each other's Celery messages or
    heartbeats: a random pick collided now and then, a claim never does.
    """
    base = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0").rpartition("/")[0]
    token = uuid.uuid4().hex
    for number in range(1, 16):
        url = f"{base}/{number}"
        client = redis.Redis.from_url(url)
        if client.set(CLAIM_KEY, token, nx=True, ex=CLAIM_S):
            client.flushdb()
            client.set(CLAIM_KEY, token, ex=CLAIM_S)
            return url
    raise RuntimeError("every Redis database 1-15 is claimed by a live stack")


def release_redis_db(url: str) -> None:
    redis.Redis.from_url(url).delete(CLAIM_KEY)


def drop_live_platform(platform: LivePlatform) -> None:
    platform.stop_all()
    release_redis_db(platform.env["REDIS_URL"])
    base_url = os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/platform"
    )
    db_name = platform.database_url.rpartition("/")[2]
    with psycopg.connect(admin_dsn(base_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
