"""Two machines simulated on one: `runplatform --roles web` and `--roles worker,scheduler,sweeper`.

Each has its own data dir (its own local disk); they share one PostgreSQL
database, one Redis database and one S3 bucket (moto in server mode), as
the README's "Several machines" says. Everything goes through the official
SDK against the web-only machine, so every execution runs on the other one.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path

import psycopg
import pytest
import requests
from craft_ai_sdk import CraftAiSdk, Input, InputSource, Output, OutputDestination
from craft_ai_sdk.exceptions import SdkException

from platform_site.operations.processes import BASE_DIR
from tests.e2e.live import (
    ARTIFACTS,
    admin_dsn,
    claim_redis_db,
    free_port,
    release_redis_db,
)

pytestmark = pytest.mark.e2e

START_TIMEOUT_S = 120
WEB_ROLES = "web"
WORKER_ROLES = "worker,scheduler,sweeper"

CODE = """
import tinyreq


def count(data, n):
    with open(data["path"]) as f:
        words = f.read().split()
    with open("report.txt", "w") as f:
        f.write(f"{len(words)} words, plus {tinyreq.VALUE}")
    return {"total": len(words) + n + tinyreq.VALUE, "report": {"path": "report.txt"}}
"""


def tiny_wheel() -> bytes:
    """A pure-Python wheel, so installing requirements needs no package index."""
    files = {
        "tinyreq/__init__.py": b"VALUE = 40\n",
        "tinyreq-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinyreq\nVersion: 1.0\n",
        "tinyreq-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, content in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(content)}")
    record.append("tinyreq-1.0.dist-info/RECORD,,")
    files["tinyreq-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        for name, content in files.items():
            wheel.writestr(name, content)
    return buffer.getvalue()


class Machine:
    """One `manage.py runplatform --roles ...` with its own data dir."""

    def __init__(self, name: str, roles: str, env: dict[str, str], log_dir: Path):
        self.name = name
        self.data_dir = Path(env["PLATFORM_DATA_DIR"])
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(BASE_DIR / "manage.py"), "runplatform"]
            + ["--roles", roles],
            cwd=BASE_DIR,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self._log.close()

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]


def healthz(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=5) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def wait_for(condition, *, timeout_s: float, every_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"not reached within {timeout_s} s")


@pytest.fixture(scope="module")
def machines(s3_server, tmp_path_factory):
    base_url = os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/platform"
    )
    db_name = f"platform_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    redis_url = claim_redis_db()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # What must match on every machine (README "Several machines").
    shared = {
        **{k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"},
        **s3_server.env(s3_server.new_bucket()),
        "SECRET_KEY": f"several-machines-{uuid.uuid4().hex}",
        "DATABASE_URL": f"{base_url.rpartition('/')[0]}/{db_name}",
        "REDIS_URL": redis_url,
        "PLATFORM_QUEUE": f"platform-{db_name}",
        "PLATFORM_PUBLIC_URL": url,
        "PLATFORM_ADMIN_PASSWORD": "several-machines-admin",
        "PYTHONUNBUFFERED": "1",
    }
    log_dir = ARTIFACTS / "e2e-logs" / f"{db_name}-machines"
    log_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for name, roles, node_port in (
        ("machine-a", WEB_ROLES, port),
        ("machine-b", WORKER_ROLES, free_port()),
    ):
        data_dir = tmp_path_factory.mktemp(name)
        env = {
            **shared,
            "PLATFORM_DATA_DIR": str(data_dir),
            "PLATFORM_NODE_NAME": name,
            "PORT": str(node_port),
        }
        started.append(Machine(name, roles, env, log_dir))
    web, worker = started
    try:
        wait_for(
            lambda: _healthy(url, web, worker), timeout_s=START_TIMEOUT_S, every_s=1
        )
        token = subprocess.run(
            [sys.executable, "manage.py", "create_sdk_token", "admin"],
            cwd=BASE_DIR,
            env=web.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]
        sdk = CraftAiSdk(
            sdk_token=token, environment_url=url, control_url=url, verbose_log=False
        )
        yield {"url": url, "web": web, "worker": worker, "sdk": sdk}
    finally:
        for machine in started:
            machine.stop()
        release_redis_db(redis_url)
        with psycopg.connect(admin_dsn(base_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


def _healthy(url: str, *machines: Machine) -> bool:
    for machine in machines:
        assert machine.proc.poll() is None, f"{machine.name}:\n{machine.tail()}"
    try:
        return healthz(url)[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def counter(machines, tmp_path_factory):
    """A pipeline with requirements, created through the web-only machine."""
    sdk = machines["sdk"]
    folder = tmp_path_factory.mktemp("counter-code")
    (folder / "src").mkdir()
    (folder / "src/main.py").write_text(CODE)
    (folder / "wheels").mkdir()
    (folder / "wheels/tinyreq-1.0-py3-none-any.whl").write_bytes(tiny_wheel())
    (folder / "requirements.txt").write_text("./wheels/tinyreq-1.0-py3-none-any.whl\n")
    try:
        created = create_counter(sdk, folder)
    except SdkException:
        pytest.fail(
            "\n".join(line["message"] for line in sdk.get_pipeline_logs("counter"))
        )
    assert created["creation_info"]["status"] == "ready"
    sdk.upload_data_store_object(io.BytesIO(b"one two three"), "inputs/words.txt")
    return "counter"


def create_counter(sdk, folder: Path) -> dict:
    return sdk.create_pipeline(
        pipeline_name="counter",
        function_path="src/main.py",
        function_name="count",
        container_config={
            "local_folder": str(folder),
            "requirements_path": "requirements.txt",
            "included_folders": ["src", "wheels", "requirements.txt"],
        },
        inputs=[Input("data", "file", is_required=True), Input("n", "number")],
        outputs=[Output("total", "number"), Output("report", "file")],
        timeout_s=240,
    )


def words_from_the_data_store() -> list[InputSource]:
    return [InputSource(pipeline_input_name="data", datastore_path="inputs/words.txt")]


def test_it_reports_what_each_machine_runs(machines):
    status, body = healthz(machines["url"])

    assert status == 200
    assert body["node"] == {"host": "machine-a", "roles": ["web"]}
    for part in ("worker", "scheduler", "sweeper"):
        assert [node["host"] for node in body["nodes"][part]] == ["machine-b"]


def test_it_builds_on_the_worker_machine_only(machines, counter):
    [pipeline_id] = [
        line
        for line in os.listdir(machines["worker"].data_dir / "pipelines")
        if not line.startswith(".")
    ]
    worker_copy = machines["worker"].data_dir / "pipelines" / pipeline_id

    assert list((worker_copy / "venv").glob("lib/python*/site-packages/tinyreq"))
    assert not (machines["web"].data_dir / "pipelines" / pipeline_id / "venv").exists()


def test_it_runs_with_a_data_store_input_and_returns_a_file(machines, counter):
    sdk = machines["sdk"]

    result = sdk.run_pipeline(
        counter, inputs={"n": 1}, inputs_mapping=words_from_the_data_store()
    )

    assert result["outputs"] == {"total": 44, "report": b"3 words, plus 40"}
    assert not (machines["web"].data_dir / "executions").exists()
    assert not (machines["web"].data_dir / "datastore").exists()


def test_it_writes_an_output_to_the_data_store(machines, counter, tmp_path):
    sdk = machines["sdk"]

    result = sdk.run_pipeline(
        counter,
        inputs={"n": 0},
        inputs_mapping=words_from_the_data_store(),
        outputs_mapping=[
            OutputDestination(
                pipeline_output_name="report",
                datastore_path="reports/{execution_id}.txt",
            )
        ],
    )
    target = tmp_path / "report.txt"
    sdk.download_data_store_object(f"reports/{result['execution_id']}.txt", str(target))

    assert target.read_text() == "3 words, plus 40"


def test_it_serves_an_endpoint(machines, counter):
    sdk = machines["sdk"]
    deployment = sdk.create_deployment(
        pipeline_name=counter,
        deployment_name="counter-endpoint",
        execution_rule="endpoint",
        mode="elastic",
        inputs_mapping=[
            *words_from_the_data_store(),
            InputSource(pipeline_input_name="n", endpoint_input_name="n"),
        ],
        outputs_mapping=[
            OutputDestination(
                pipeline_output_name="total", endpoint_output_name="total"
            ),
            OutputDestination(pipeline_output_name="report", is_null=True),
        ],
    )

    result = sdk.trigger_endpoint(
        "counter-endpoint",
        endpoint_token=deployment["endpoint_token"],
        inputs={"n": 2},
    )

    assert result["outputs"] == {"total": 45}


def test_it_fires_a_periodic_deployment_on_the_scheduler_machine(machines, counter):
    sdk = machines["sdk"]
    sdk.create_deployment(
        pipeline_name=counter,
        deployment_name="counter-minutely",
        execution_rule="periodic",
        schedule="* * * * *",
        inputs_mapping=[
            *words_from_the_data_store(),
            InputSource(pipeline_input_name="n", constant_value=3),
        ],
        outputs_mapping=[
            OutputDestination(pipeline_output_name="total", is_null=True),
            OutputDestination(pipeline_output_name="report", is_null=True),
        ],
    )

    def succeeded():
        return [
            e
            for e in sdk.list_pipeline_executions(counter)
            if e.get("deployment_name") == "counter-minutely"
            and e.get("status") == "Succeeded"
        ]

    assert wait_for(succeeded, timeout_s=90, every_s=2)


def test_it_uploads_in_parts_through_the_bucket(machines, monkeypatch):
    sdk = machines["sdk"]
    monkeypatch.setattr(sdk, "_MULTIPART_THRESHOLD", 100)
    monkeypatch.setattr(sdk, "_MULTIPART_PART_SIZE", 100)
    data = os.urandom(250)

    sdk.upload_data_store_object(io.BytesIO(data), "parts/big.bin")
    buffer = io.BytesIO()
    sdk.download_data_store_object("parts/big.bin", buffer)

    assert buffer.getvalue() == data
    assert not (machines["web"].data_dir / "datastore").exists()


def test_it_serves_an_endpoint_file_output_from_the_bucket(machines, counter):
    sdk = machines["sdk"]
    deployment = sdk.create_deployment(
        pipeline_name=counter,
        deployment_name="counter-files",
        execution_rule="endpoint",
        mode="elastic",
        inputs_mapping=[
            *words_from_the_data_store(),
            InputSource(pipeline_input_name="n", constant_value=0),
        ],
        outputs_mapping=[
            OutputDestination(pipeline_output_name="total", is_null=True),
            OutputDestination(
                pipeline_output_name="report", endpoint_output_name="report"
            ),
        ],
    )
    token = deployment["endpoint_token"]

    called = requests.post(
        f"{machines['url']}/endpoints/{deployment['endpoint_url_path']}",
        headers={"Authorization": f"EndpointToken {token}"},
        json={},
        timeout=60,
    )
    file_url = called.json()["outputs"]["report"]["url"]
    report = requests.get(file_url, params={"token": token}, timeout=30)

    assert called.status_code == 200, called.text
    assert report.status_code == 200
    assert report.content == b"3 words, plus 40"
