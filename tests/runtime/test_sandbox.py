"""A hostile pipeline inside the bubblewrap sandbox: every attack fails in the function, the pool goes on.

Plain processes, no Django: the sandbox is the runtime's (executions/runtime/sandbox.py).
The same attacks run against a live platform in tests/e2e/test_sandbox_live.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import socket
import textwrap
from pathlib import Path

import pytest

from executions.runtime.pool import DISK_QUOTA_REASON, RunSpec, ZygotePool
from executions.runtime.sandbox import RUNTIME_DIR, Sandbox, base_python
from platform_site.processes import BASE_DIR

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


@pytest.mark.parametrize("network", [True, False])
def test_the_network_is_the_hosts_unless_cut(tmp_path, network):
    server, port = _listening_port()
    with server, ZygotePool(sandbox=Sandbox(network=network)) as pool:
        result = Sandboxed(tmp_path, pool).run(
            f"""
            def main():
                return {{"report": attempt(lambda: socket.create_connection(("127.0.0.1", {port}), 2))}}
            """
        )
    assert report_of(result) == (
        "allowed" if network else "refused: ConnectionRefusedError"
    )
