"""Throwaway PostgreSQL clusters and Redis servers for the fault drills.

Each drill gets its own: a cluster made by `initdb` in a temporary folder
and started by `pg_ctl` on a free port (as the `postgres` OS user when we
are root, since PostgreSQL refuses to run as root), and a `redis-server`
on a free port without persistence. The machine's own PostgreSQL (5432)
and Redis (6379) are never touched, so drills can restart theirs freely.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

START_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin(name: str) -> str:
    """initdb/pg_ctl of the newest PostgreSQL installed (Debian keeps them off PATH)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
    )
    for folder in reversed(versions):
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install PostgreSQL's server package")
    return found


def as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


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
            as_postgres(
                [postgres_bin("pg_ctl"), "-D", str(self.folder / "data"), *args]
            ),
            check=True,
            capture_output=True,
            timeout=START_TIMEOUT_S + 10,
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
    folder = Path(tempfile.mkdtemp(prefix="drill-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    subprocess.run(
        as_postgres(
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
            ]
        ),
        check=True,
        capture_output=True,
        timeout=120,
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
                "redis-server",
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
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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
    server = RedisServer(
        folder=Path(tempfile.mkdtemp(prefix="drill-redis-")), port=free_port()
    )
    server.start()
    return server


def drop_redis(server: RedisServer) -> None:
    try:
        server.stop()
    finally:
        shutil.rmtree(server.folder, ignore_errors=True)
