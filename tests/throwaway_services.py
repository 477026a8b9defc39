"""Throwaway PostgreSQL and Redis for a test session where DATABASE_URL/REDIS_URL are unset.

A pytest plugin loaded before any other (`-p tests.throwaway_services` in
pyproject's addopts): its pytest_load_initial_conftests runs before
pytest-django's, which imports the settings, and settings.py reads
DATABASE_URL at import. It starts the missing servers from wheels
(tests/faults/services.py) in one temporary folder and puts their URLs in
os.environ, which every subprocess inherits (live stacks, drills). Set
variables are used as they are.

Everything lives in that folder, the fault drills' own servers included
(PLATFORM_TEST_SERVERS_DIR), and one watcher process removes it: it waits
for EOF on a pipe from pytest, then stops every server whose pid file lies
there and deletes the folder. pytest closes the pipe when it ends (config
cleanup, else atexit); when pytest dies of SIGKILL, a crash or
pytest-timeout's os._exit, the kernel closes it, so no session leaves
servers running. SIGTERM is turned into KeyboardInterrupt, so the session's
fixtures (live stacks) are torn down too.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from tests.faults.services import (
    POSTMASTER_PID,
    REDIS_PID,
    SERVERS_DIR_ENV,
    start_cluster,
    start_redis,
)

ROOT_DIR = Path(__file__).resolve().parents[1]
DATABASE = "platform"
STOP_TIMEOUT_S = 30


class ThrowawayServers:
    """The session's folder of servers, its watcher, and what was started in it."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="platform-tests-"))
        # PostgreSQL runs as another OS user when we are root: it must get in.
        self.folder.chmod(0o755)
        self.watcher = subprocess.Popen(
            [sys.executable, "-m", "tests.throwaway_services", str(self.folder)],
            cwd=ROOT_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Ctrl-C reaches pytest only; the watcher cleans up after it.
            start_new_session=True,
        )
        self.started: list[str] = []
        self.redis = None

    def start_missing(self) -> None:
        os.environ[SERVERS_DIR_ENV] = str(self.folder)
        if not os.environ.get("DATABASE_URL"):
            cluster = start_cluster()
            with psycopg.connect(cluster.url, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
            os.environ["DATABASE_URL"] = cluster.url.rpartition("/")[0] + "/" + DATABASE
            self.started.append(f"PostgreSQL 18 on 127.0.0.1:{cluster.port}")
        if not os.environ.get("REDIS_URL"):
            self.redis = start_redis()
            os.environ["REDIS_URL"] = self.redis.url
            self.started.append(f"Redis on 127.0.0.1:{self.redis.port}")

    def stop(self) -> None:
        """Close the watcher's pipe and wait until it removed everything."""
        if self.watcher.stdin.closed:
            return
        # The tests are over: daemon threads left behind (the wake-up listener)
        # would only log that their Redis went away.
        logging.disable(logging.WARNING)
        self.watcher.stdin.close()
        try:
            self.watcher.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.watcher.kill()
        if self.redis is not None and self.redis.proc is not None:
            self.redis.proc.wait(STOP_TIMEOUT_S)  # killed by the watcher; reap it


SERVERS = pytest.StashKey[ThrowawayServers]()


def raise_keyboard_interrupt(signum: int, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    options = early_config.known_args_namespace
    if getattr(options, "help", False) or getattr(options, "version", False):
        return
    servers = ThrowawayServers()
    early_config.add_cleanup(servers.stop)
    atexit.register(servers.stop)
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, raise_keyboard_interrupt)
    early_config.stash[SERVERS] = servers
    servers.start_missing()


def pytest_report_header(config: pytest.Config) -> list[str]:
    servers = config.stash.get(SERVERS, None)
    if servers is None or not servers.started:
        return []
    return [f"throwaway services: {', '.join(servers.started)} (in {servers.folder})"]


# -- the watcher (python -m tests.throwaway_services FOLDER) -------------------


def server_pid(pid_file: Path, folder: Path) -> int | None:
    """The pid in a pid file, if that process still runs inside `folder` (its cwd)."""
    try:
        pid = int(pid_file.read_text().split()[0])
        cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
    except (OSError, ValueError, IndexError):
        return None
    return pid if cwd.is_relative_to(folder) else None


def running(pid: int) -> bool:
    """False once gone or a zombie (pytest reaps its redis-server only after us)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def remove_servers(folder: Path) -> None:
    """Stop every server under `folder` (PostgreSQL: immediate shutdown), then delete it."""
    pids = []
    for pattern, sig in ((POSTMASTER_PID, signal.SIGQUIT), (REDIS_PID, signal.SIGKILL)):
        for pid_file in folder.glob(f"*/{pattern}"):
            pid = server_pid(pid_file, folder)
            if pid is not None:
                os.kill(pid, sig)
                pids.append(pid)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if running(pid)]
        time.sleep(0.05)
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    # Signals meant for the test run (Ctrl-C, a CI timeout) must not stop the cleanup.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    sys.stdin.buffer.read()  # EOF: pytest ended or died
    remove_servers(Path(sys.argv[1]))
