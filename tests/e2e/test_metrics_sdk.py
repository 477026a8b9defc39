"""Pipeline metrics through the official client: recorded from inside a real execution, read back."""

from __future__ import annotations

import shutil
import textwrap
import uuid
from pathlib import Path

import craft_ai_sdk
import pytest
from craft_ai_sdk import Input, Output

pytestmark = pytest.mark.e2e

# The sandbox sees only the pipeline's own code and virtualenv: ship the client
# beside main.py (it is first on sys.path) instead of installing it from PyPI.
CLIENT_PACKAGES = (
    "craft_ai_sdk",
    "strenum",
    "jwt",
    "requests",
    "urllib3",
    "idna",
    "certifi",
    "charset_normalizer",
    "typing_extensions.py",
)

CODE = """
from craft_ai_sdk import CraftAiSdk, SdkException


def train(epochs):
    sdk = CraftAiSdk()
    losses = [round(1 / (i + 1), 4) for i in range(epochs)]
    sdk.record_list_metric_values("losses", losses[:2])
    sdk.record_list_metric_values("losses", losses[2:])
    sdk.record_metric_value("loss", 1.0)
    sdk.record_metric_value("loss", losses[-1])
    try:
        sdk.list_pipelines()
        other_routes = "open"
    except SdkException as exc:
        other_routes = exc.status_code
    return {"other_routes": other_routes}
"""


def pipeline_with_client(sdk, tmp_path: Path) -> str:
    name = f"train-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(CODE))
    site = Path(craft_ai_sdk.__file__).parent.parent
    for package in CLIENT_PACKAGES:
        source = site / package
        if source.is_dir():
            shutil.copytree(
                source, folder / package, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy(source, folder / package)
    sdk.create_pipeline(
        pipeline_name=name,
        function_path="main.py",
        function_name="train",
        container_config={
            "local_folder": str(folder),
            "included_folders": list(CLIENT_PACKAGES),
        },
        inputs=[Input("epochs", "number", is_required=True)],
        outputs=[Output("other_routes", "json")],
    )
    return name


def test_an_execution_records_metrics_the_user_reads_back(sdk, tmp_path):
    name = pipeline_with_client(sdk, tmp_path)
    first = sdk.run_pipeline(name, inputs={"epochs": 4})
    second = sdk.run_pipeline(name, inputs={"epochs": 2})

    # The execution's token opened only its own metric routes.
    assert first["outputs"]["other_routes"] == 401
    mine = sdk.get_metrics(execution_id=first["execution_id"])
    assert [(m["name"], m["value"]) for m in mine] == [("loss", 0.25)]
    assert mine[0]["pipeline_name"] == name
    lists = sdk.get_list_metrics(name="losses", pipeline_name=name)
    assert [m["values"] for m in lists] == [[1.0, 0.5, 0.3333, 0.25], [1.0, 0.5]]
    assert [m["execution_id"] for m in lists] == [
        first["execution_id"],
        second["execution_id"],
    ]
    assert len(sdk.get_metrics(name="loss", pipeline_name=name)) == 2
    assert sdk.get_metrics(deployment_name=f"{name}-none") == []


def test_outside_an_execution_nothing_is_sent(sdk, monkeypatch):
    monkeypatch.delenv("CRAFT_AI_EXECUTION_ID", raising=False)
    sdk.warn_on_metric_outside_of_pipeline = False
    assert sdk.record_metric_value("loss", 1) is False
