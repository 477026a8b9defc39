"""Fixtures for the runtime tests: plain processes, no Django, no database."""

from __future__ import annotations

import os
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator

import pytest

from runtime.pool import ZygotePool
from runtime.run_spec import RunSpec


class Logs:
    """An on_log callback that keeps (stream, line) pairs."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, stream: str, ts: float, line: str) -> None:
        with self._lock:
            self.entries.append((stream, line))

    def lines(self, stream: str) -> list[str]:
        return [line for s, line in self.entries if s == stream]


@pytest.fixture
def logs() -> Logs:
    return Logs()


@pytest.fixture
def pool() -> Iterator[ZygotePool]:
    with ZygotePool() as pool:
        yield pool


@pytest.fixture
def pipeline(tmp_path) -> Callable[..., RunSpec]:
    """Write a user module into tmp_path and return a RunSpec that calls its main()."""
    code_dir = tmp_path / "code"
    work_dir = tmp_path / "work"
    code_dir.mkdir()
    work_dir.mkdir()

    def make(
        source: str,
        *,
        outputs: dict[str, str] | None = None,
        inputs: dict | None = None,
        env: dict[str, str] | None = None,
        timeout_s: float = 60,
        memory_limit_mib: int = 0,
        function_path: str = "main.py",
        key: str = "",
    ) -> RunSpec:
        path = code_dir / function_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        return RunSpec(
            zygote_key=key or f"{tmp_path}:{function_path}",
            python_executable=sys.executable,
            code_dir=str(code_dir),
            function_path=function_path,
            function_name="main",
            inputs=inputs or {},
            outputs=[{"name": n, "data_type": t} for n, t in (outputs or {}).items()],
            env=env if env is not None else {"PATH": os.defpath},
            work_dir=str(work_dir),
            timeout_s=timeout_s,
            memory_limit_mib=memory_limit_mib,
        )

    return make
