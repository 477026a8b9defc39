"""The steps of a pipeline build, run by the Celery worker through `pipeline_build`.

Each step writes a log line; a refusal raises BuildFailed with one readable
line (and optional detail lines such as an import traceback). User code (pip's
setup scripts, the function's module) only ever runs in the sandbox
(runtime/sandbox.py), whose environment holds no platform secret.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from pipelines.archives import ArchiveError, extract_archive
from pipelines.models import Pipeline
from pipelines.sandbox import get_sandbox
from pipelines.services.local import (
    local_copy_forget,
    local_copy_mark,
    local_lock,
    pipeline_archive_fetch,
)
from runtime import sandbox_network
from runtime.sandbox import base_python, runtime_script, venv_root

INSPECT_TIMEOUT_S = 60
VENV_TIMEOUT_S = 300
PIP_TIMEOUT_S = 15 * 60
MAX_DETAIL_LINES = 60
# pip may need a proxy, an index or certificates; never DATABASE_URL, SECRET_KEY, REDIS_URL.
PIP_ENV_ALLOWED = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TMPDIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_NO_INDEX",
    "PIP_CACHE_DIR",
    "PIP_TRUSTED_HOST",
    "PIP_CERT",
    "PIP_CONSTRAINT",
    "PIP_DEFAULT_TIMEOUT",
    "REQUESTS_CA_BUNDLE",
)
# The machine's pip configuration (index, certificates, constraints) is
# visible to the sandboxed `pip install`, and to nothing else.
PIP_CONFIG_PATHS = ("/etc/pip.conf", "/etc/xdg/pip")

Log = Callable[[str], None]


class BuildFailed(Exception):
    """The build is refused: `message` is the one line the user reads first."""

    def __init__(self, message: str, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


def minimal_env() -> dict[str, str]:
    """What user code may see of our environment: PATH only."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}


def pip_env() -> dict[str, str]:
    env = {key: os.environ[key] for key in PIP_ENV_ALLOWED if key in os.environ}
    env.setdefault("PATH", "/usr/bin:/bin")
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _inside(root: Path, relative: str) -> Path | None:
    """root/relative resolved, or None when it leaves root (e.g. through a link)."""
    target = (root / relative).resolve()
    return target if target.is_relative_to(root.resolve()) else None


def _tail(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()][-MAX_DETAIL_LINES:]


def run_build(pipeline: Pipeline, *, log: Log) -> dict:
    """Extract, install, inspect. Returns the inspection verdict; BuildFailed otherwise."""
    with local_lock(pipeline):
        note_ignored_config(pipeline, log=log)
        prepare_local_copy(pipeline, log=log)
        verdict = inspect_function(pipeline, log=log)
        local_copy_mark(pipeline)
    return verdict


def prepare_local_copy(pipeline: Pipeline, *, log: Log) -> None:
    """This machine's code folder and virtualenv, from the archive in the database."""
    # A redelivered task starts from scratch: nothing half-built survives.
    local_copy_forget(pipeline)
    shutil.rmtree(pipeline.code_dir, ignore_errors=True)
    shutil.rmtree(pipeline.venv_dir, ignore_errors=True)
    extract(pipeline, log=log)
    check_function_file(pipeline, log=log)
    if pipeline.requirements_path:
        install_requirements(pipeline, log=log)


def extract(pipeline: Pipeline, *, log: Log) -> None:
    # The database holds the archive; a local file alone (tests) is used as it is.
    if not pipeline_archive_fetch(pipeline) and not pipeline.archive_path.is_file():
        raise BuildFailed("The uploaded archive is missing; create the pipeline again")
    log("Extracting the uploaded code")
    try:
        files = extract_archive(pipeline.archive_path, pipeline.code_dir)
    except ArchiveError as exc:
        raise BuildFailed(exc.message) from None
    log(f"Extracted {len(files)} file{'s' if len(files) != 1 else ''}")


def check_function_file(pipeline: Pipeline, *, log: Log) -> None:
    path = _inside(pipeline.code_dir, pipeline.function_path)
    if path is None or not path.is_file():
        raise BuildFailed(
            f"Function file '{pipeline.function_path}' not found in the uploaded code"
        )
    log(f"Found function file {pipeline.function_path}")


def note_ignored_config(pipeline: Pipeline, *, log: Log) -> None:
    config = pipeline.container_config or {}
    if config.get("system_dependencies"):
        log(
            "Note: system_dependencies are not installed on this platform; ignored: "
            + ", ".join(map(str, config["system_dependencies"]))
        )
    if config.get("language"):
        log(
            f"Note: language {config['language']} requested; this platform runs "
            f"Python {sys.version_info.major}.{sys.version_info.minor}"
        )


def install_requirements(pipeline: Pipeline, *, log: Log) -> None:
    relative = pipeline.requirements_path
    requirements = _inside(pipeline.code_dir, relative)
    if requirements is None or not requirements.is_file():
        raise BuildFailed(
            f"Requirements file '{relative}' not found in the uploaded code"
        )
    log("Creating the pipeline's virtual environment")
    try:
        # The bare installation's venv module: pip, not our own packages.
        done = subprocess.run(
            [base_python(), "-m", "venv", str(pipeline.venv_dir)],
            env=pip_env(),
            capture_output=True,
            text=True,
            timeout=VENV_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise BuildFailed("Creating the virtual environment took too long") from None
    if done.returncode != 0:
        raise BuildFailed(
            "Could not create the pipeline's virtual environment",
            _tail(done.stdout + done.stderr),
        )
    log(f"Installing requirements from {relative}")
    venv_python = pipeline.venv_dir / "bin" / "python"
    command = [
        str(venv_python),
        "-m",
        "pip",
        "install",
        "--no-input",
        "--progress-bar",
        "off",
        "-r",
        str(requirements),
    ]
    # pip runs the packages' build scripts: sandboxed, writing only the
    # venv and a scratch folder on disk (wheels can be bigger than /tmp).
    scratch = pipeline.folder / "build-tmp"
    scratch.mkdir(exist_ok=True)
    sandbox = get_sandbox()
    if sandbox is not None:
        # pip needs its index even where executions get no network: egress
        # (never the host's loopback), where this machine can give it.
        if sandbox.network == sandbox_network.NONE:
            egress = sandbox_network.effective_mode(sandbox_network.EGRESS)
            sandbox = dataclasses.replace(sandbox, network=egress)
        if sandbox.network == sandbox_network.NONE:
            log(f"Note: {sandbox_network.tool_problem()}; pip has no network")
        key = _sandbox_key(pipeline)
        sandbox.hand_over(str(pipeline.venv_dir), key)
        sandbox.hand_over(str(scratch), key)
        command = sandbox.command(
            command,
            key=key,
            read_only=[str(pipeline.code_dir)],
            read_write=[str(pipeline.venv_dir)],
            read_only_if_present=PIP_CONFIG_PATHS,
            tmp_dir=str(scratch),
            cwd=str(pipeline.code_dir),
        )
    env = {**pip_env(), "TMPDIR": "/tmp" if sandbox else str(scratch)}
    if sandbox is not None:
        env["HOME"] = "/tmp"
    try:
        returncode, timed_out = stream_process(
            command,
            cwd=pipeline.code_dir,
            env=env,
            timeout_s=PIP_TIMEOUT_S,
            log=log,
            popen=sandbox.popen if sandbox is not None else subprocess.Popen,
        )
    except sandbox_network.NetworkUnavailable as exc:
        raise BuildFailed(f"Could not start pip in the sandbox: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if timed_out:
        raise BuildFailed(
            f"Installing requirements from {relative} took longer than {PIP_TIMEOUT_S} s"
        )
    if returncode != 0:
        raise BuildFailed(
            f"Installing requirements from {relative} failed (pip exited with status {returncode})"
        )
    log("Requirements installed")


def stream_process(
    command: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout_s: float,
    log: Log,
    popen: Callable[..., subprocess.Popen] = subprocess.Popen,
) -> tuple[int, bool]:
    """Run `command`, logging each output line as it comes; (exit status, timed out).

    `popen` is a sandbox's (Sandbox.popen) for a sandboxed command.
    """
    proc = popen(
        command,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        proc.kill()

    timer = threading.Timer(timeout_s, kill)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip():
                log(line.rstrip())
        returncode = proc.wait()
    finally:
        timer.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return returncode, timed_out.is_set()


def inspect_function(pipeline: Pipeline, *, log: Log) -> dict:
    log(f"Checking {pipeline.function_name}() in {pipeline.function_path}")
    request = {
        "function_path": pipeline.function_path,
        "function_name": pipeline.function_name,
        "inputs": [item["name"] for item in pipeline.inputs],
    }
    sandbox = get_sandbox()
    # -I: no PYTHON* variables, no user site, no script folder on sys.path.
    command = [
        pipeline.python_executable,
        "-I",
        runtime_script("zygote.py", sandbox),
        "--inspect",
    ]
    if sandbox is not None:
        venv = venv_root(pipeline.python_executable)
        command = sandbox.command(
            command,
            key=_sandbox_key(pipeline),
            read_only=[str(pipeline.code_dir), *([venv] if venv else [])],
            cwd=str(pipeline.code_dir),
        )
    run = sandbox.run if sandbox is not None else subprocess.run
    try:
        done = run(
            command,
            input=json.dumps(request),
            cwd=pipeline.code_dir,
            env=minimal_env(),
            capture_output=True,
            text=True,
            errors="replace",
            timeout=INSPECT_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise BuildFailed(
            f"Importing {pipeline.function_path} took longer than {INSPECT_TIMEOUT_S} s"
        ) from None
    except sandbox_network.NetworkUnavailable as exc:
        raise BuildFailed(f"Could not start the function check: {exc}") from None
    verdict = _parse_verdict(done.stdout)
    if verdict is None:
        raise BuildFailed(
            f"Could not check {pipeline.function_path}: the check exited with status {done.returncode}",
            _tail(done.stderr),
        )
    if not verdict.get("ok"):
        details = _tail(verdict.get("details") or "")
        raise BuildFailed(
            str(verdict.get("error") or "The function check failed"), details
        )
    kind = "async function" if verdict.get("is_async") else "function"
    log(f"The {kind} {pipeline.function_name}() accepts the declared inputs")
    return verdict


def _sandbox_key(pipeline: Pipeline) -> str:
    return f"{pipeline.pk}:build"


def _parse_verdict(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.strip():
            try:
                verdict = json.loads(line)
            except ValueError:
                return None
            return verdict if isinstance(verdict, dict) else None
    return None
