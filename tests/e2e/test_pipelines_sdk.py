"""Pipelines through the official SDK against the live stack (web, worker, scheduler)."""

from __future__ import annotations

import io
import socket
import tarfile
import uuid
from pathlib import Path

import pytest
import requests
from craft_ai_sdk import INPUT_OUTPUT_TYPES, Input, Output
from craft_ai_sdk.exceptions import SdkException

pytestmark = pytest.mark.e2e

MAIN = "def f(a, b=2):\n    return {'s': a + b}\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def code_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "code"
    for name, content in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
    return folder


def create(sdk, name: str, folder: Path, *, function_name: str = "f", **config):
    return sdk.create_pipeline(
        pipeline_name=name,
        function_path="src/main.py",
        function_name=function_name,
        container_config={"local_folder": str(folder), **config},
        inputs=[
            Input("a", INPUT_OUTPUT_TYPES.NUMBER, is_required=True),
            Input("b", INPUT_OUTPUT_TYPES.NUMBER, default_value=2),
        ],
        outputs=[Output("s", INPUT_OUTPUT_TYPES.NUMBER)],
        timeout_s=240,
    )


def log_messages(sdk, name: str) -> list[str]:
    return [line["message"] for line in sdk.get_pipeline_logs(name)]


def pipeline_folder(live_platform, name: str) -> Path:
    [(pipeline_id,)] = live_platform.sql(
        "SELECT id FROM pipelines_pipeline WHERE name = %s", name
    )
    return live_platform.data_dir / "pipelines" / str(pipeline_id)


def test_it_creates_gets_lists_downloads_and_deletes(sdk, tmp_path):
    name = unique("sum")
    folder = code_folder(tmp_path, {"src/main.py": MAIN, "notes.txt": "not shipped"})

    created = create(sdk, name, folder, description=None)
    fetched = sdk.get_pipeline(name)
    listed = {p["pipeline_name"]: p["status"] for p in sdk.list_pipelines()}
    sdk.download_pipeline_local_folder(name, str(tmp_path))
    deleted = sdk.delete_pipeline(name)

    assert created["creation_info"]["status"] == "ready"
    assert created["creation_info"]["last_execution_id"] is None
    assert fetched["parameters"]["inputs"][1]["default_value"] == 2
    assert fetched["parameters"]["inputs"][0]["is_required"] is True
    assert listed[name] == "ready"
    with tarfile.open(tmp_path / f"{name}.tgz") as tar:
        assert tar.getnames() == ["src/main.py"]
    assert deleted == {"pipeline": {"name": name}, "deployments": []}
    with pytest.raises(SdkException) as missing:
        sdk.get_pipeline(name)
    assert missing.value.status_code == 404


def test_it_refuses_a_duplicate_name(sdk, tmp_path):
    name = unique("dup")
    folder = code_folder(tmp_path, {"src/main.py": MAIN})
    create(sdk, name, folder)

    with pytest.raises(SdkException) as duplicate:
        create(sdk, name, folder)

    assert duplicate.value.status_code == 409


def test_it_fails_creation_when_the_function_is_missing(sdk, tmp_path):
    name = unique("missing")
    folder = code_folder(tmp_path, {"src/main.py": MAIN})

    with pytest.raises(SdkException) as failed:
        create(sdk, name, folder, function_name="predict")

    assert failed.value.name == "CreationFailed"
    assert "Function 'predict' not found in src/main.py" in log_messages(sdk, name)


def test_it_fails_creation_on_a_parameter_mismatch(sdk, tmp_path):
    name = unique("mismatch")
    folder = code_folder(tmp_path, {"src/main.py": "def f(a):\n    return {}\n"})

    with pytest.raises(SdkException) as failed:
        create(sdk, name, folder)

    assert failed.value.name == "CreationFailed"
    assert "Input 'b' is declared but f() takes no parameter named 'b'" in log_messages(
        sdk, name
    )


def test_it_refuses_an_archive_escaping_the_folder(live_platform, sdk):
    name = unique("evil")
    access = requests.post(
        f"{live_platform.url}/api/v1/auth/refresh",
        json={"refresh_token": live_platform.sdk_token},
        timeout=10,
    ).json()["access_token"]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for member, content in (("src/main.py", MAIN.encode()), ("../evil", b"boom")):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))

    response = requests.post(
        f"{live_platform.url}/api/v1/pipelines",
        headers={"Authorization": f"Bearer {access}"},
        data={
            "pipeline_name": name,
            "function_path": "src/main.py",
            "function_name": "f",
        },
        files={"step_file": buffer.getvalue()},
        timeout=30,
    )
    assert response.status_code == 201
    with pytest.raises(SdkException) as failed:
        sdk.get_pipeline(name, wait_for_completion=True, timeout_s=120)

    assert failed.value.name == "CreationFailed"
    assert (
        "Archive member '../evil' would be written outside the pipeline folder"
        in log_messages(sdk, name)
    )
    folder = pipeline_folder(live_platform, name)
    assert not (folder / "evil").exists()
    assert not (folder.parent / "evil").exists()
    assert not (folder / "code").exists()


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=3).close()
    except OSError:
        return False
    return True


def test_it_installs_requirements_into_the_pipeline_venv(live_platform, sdk, tmp_path):
    if not _pypi_reachable():
        pytest.skip("PyPI is not reachable from this machine: cannot pip install six")
    name = unique("reqs")
    folder = code_folder(
        tmp_path,
        {"src/main.py": "import six\n\n" + MAIN, "requirements.txt": "six\n"},
    )

    created = create(sdk, name, folder, requirements_path="requirements.txt")

    assert created["creation_info"]["status"] == "ready"
    assert (
        created["parameters"]["container_config"]["requirements_path"]
        == "requirements.txt"
    )
    venv = pipeline_folder(live_platform, name) / "venv"
    assert list(venv.glob("lib/python*/site-packages/six.py"))
    assert any("Successfully installed six" in m for m in log_messages(sdk, name))


def test_it_fails_creation_when_a_requirement_cannot_be_installed(sdk, tmp_path):
    name = unique("badreqs")
    folder = code_folder(
        tmp_path, {"src/main.py": MAIN, "requirements.txt": "./no-such-package-dir\n"}
    )

    with pytest.raises(SdkException) as failed:
        create(sdk, name, folder, requirements_path="requirements.txt")

    assert failed.value.name == "CreationFailed"
    messages = log_messages(sdk, name)
    assert any(
        m.startswith("Installing requirements from requirements.txt failed")
        for m in messages
    )
