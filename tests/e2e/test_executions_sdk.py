"""Runs, results, logs and deletion through the official client against the live stack."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
from craft_ai_sdk import Input, InputSource, Output, OutputDestination, SdkException

pytestmark = pytest.mark.e2e

CODE = """
import sys

def add(number1, number2):
    print("adding", number1, number2)
    print("careful", file=sys.stderr)
    return {"total": number1 + number2}

def boom(number1, number2):
    raise ZeroDivisionError("boom " + str(number1))

def wrong(number1, number2):
    return {"total": "fifteen"}

def upper(doc, prefix):
    with open(doc["path"]) as f:
        text = prefix + f.read().upper()
    with open("out.txt", "w") as f:
        f.write(text)
    return {"result": {"path": "out.txt"}, "size": len(text)}
"""

NUMBERS = [
    Input("number1", "number", is_required=True),
    Input("number2", "number", is_required=True),
]


def create_pipeline(
    sdk,
    tmp_path: Path,
    function_name: str,
    *,
    code: str = CODE,
    inputs=None,
    outputs=None,
) -> str:
    """A pipeline from `code` (saved as main.py) with a unique name."""
    name = f"{function_name.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    folder = tmp_path / name
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(code))
    sdk.create_pipeline(
        pipeline_name=name,
        function_path="main.py",
        function_name=function_name,
        container_config={"local_folder": str(folder)},
        inputs=NUMBERS if inputs is None else inputs,
        outputs=[Output("total", "number")] if outputs is None else outputs,
    )
    return name


def test_it_runs_with_inputs_and_returns_outputs(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "add")
    result = sdk.run_pipeline(name, inputs={"number1": 9, "number2": 6})
    assert result["outputs"] == {"total": 15}
    execution = sdk.get_pipeline_execution(result["execution_id"])
    assert execution["status"] == "Succeeded"
    assert execution["inputs"][0]["value"] == 9
    assert execution["outputs"][0]["value"] == 15
    assert (
        sdk.get_pipeline_execution_output(result["execution_id"], "total")["value"]
        == 15
    )


def test_it_returns_stdout_and_stderr_lines(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "add")
    execution_id = sdk.run_pipeline(name, inputs={"number1": 1, "number2": 2})[
        "execution_id"
    ]
    logs = sdk.get_pipeline_execution_logs(execution_id)
    assert {(line["stream"], line["message"]) for line in logs} >= {
        ("stdout", "adding 1 2"),
        ("stderr", "careful"),
    }


def test_it_fails_a_raising_function_with_its_traceback(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "boom")
    with pytest.raises(SdkException) as exc:
        sdk.run_pipeline(name, inputs={"number1": 1, "number2": 2})
    assert "ZeroDivisionError" in str(exc.value)
    execution_id = exc.value.additional_data["execution_id"]
    assert sdk.get_pipeline_execution(execution_id)["status"] == "Failed"
    messages = "\n".join(
        line["message"] for line in sdk.get_pipeline_execution_logs(execution_id)
    )
    assert "Traceback" in messages
    assert "ZeroDivisionError: boom 1" in messages


def test_it_fails_a_wrong_typed_output_naming_it(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "wrong")
    with pytest.raises(SdkException) as exc:
        sdk.run_pipeline(name, inputs={"number1": 1, "number2": 2})
    assert "total" in str(exc.value)


def test_it_rejects_a_wrong_input_type_naming_it(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "add")
    with pytest.raises(SdkException) as exc:
        sdk.run_pipeline(name, inputs={"number1": "abc", "number2": 2})
    assert exc.value.status_code == 400
    assert "Input 'number1' must be a number" in str(exc.value)


def test_it_rejects_a_missing_required_input(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "add")
    with pytest.raises(SdkException) as exc:
        sdk.run_pipeline(name, inputs={"number1": 1})
    assert exc.value.status_code == 400
    assert "'number2' is required" in str(exc.value)


def test_it_maps_constants_and_environment_variables(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "add")
    variable = f"E2E_N_{uuid.uuid4().hex[:6].upper()}"
    sdk.create_or_update_environment_variable(variable, 6)
    result = sdk.run_pipeline(
        name,
        inputs_mapping=[
            InputSource(pipeline_input_name="number1", constant_value=9),
            InputSource(
                pipeline_input_name="number2", environment_variable_name=variable
            ),
        ],
        outputs_mapping=[OutputDestination(pipeline_output_name="total", is_null=True)],
    )
    execution = sdk.get_pipeline_execution(result["execution_id"])
    assert [i["source"] for i in execution["inputs"]] == [
        "constant",
        "environment_variable",
    ]
    assert execution["inputs"][1]["value"] == 6
    assert result["outputs"] == {"total": None}


def test_it_takes_and_returns_files(sdk, tmp_path):
    name = create_pipeline(
        sdk,
        tmp_path,
        "upper",
        inputs=[Input("doc", "file", is_required=True), Input("prefix", "string")],
        outputs=[Output("result", "file"), Output("size", "number")],
    )
    result = sdk.run_pipeline(name, inputs={"doc": b"hello", "prefix": "> "})
    assert result["outputs"] == {"result": b"> HELLO", "size": 7}
    execution = sdk.get_pipeline_execution(result["execution_id"])
    assert execution["inputs"][0]["value"] == b"hello"


def test_it_deletes_an_execution(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "add")
    execution_id = sdk.run_pipeline(name, inputs={"number1": 1, "number2": 2})[
        "execution_id"
    ]
    assert sdk.delete_pipeline_execution(execution_id) == {"execution_id": execution_id}
    with pytest.raises(SdkException) as exc:
        sdk.get_pipeline_execution(execution_id)
    assert exc.value.status_code == 404


def test_it_lists_a_pipelines_executions(sdk, tmp_path):
    name = create_pipeline(sdk, tmp_path, "add")
    execution_id = sdk.run_pipeline(name, inputs={"number1": 1, "number2": 2})[
        "execution_id"
    ]
    assert [e["execution_id"] for e in sdk.list_pipeline_executions(name)] == [
        execution_id
    ]
    assert sdk.get_pipeline(name)["creation_info"]["last_execution_id"] == execution_id


DATASTORE_CODE = """
def shout(doc):
    with open(doc["path"]) as f:
        text = f.read().upper()
    with open("shout.txt", "w") as f:
        f.write(text)
    return {"loud": {"path": "shout.txt"}}
"""


def test_it_maps_files_to_and_from_the_data_store(sdk, tmp_path):
    name = create_pipeline(
        sdk,
        tmp_path,
        "shout",
        code=DATASTORE_CODE,
        inputs=[Input("doc", "file", is_required=True)],
        outputs=[Output("loud", "file")],
    )
    folder = f"e2e-{uuid.uuid4().hex[:6]}"
    source = tmp_path / "in.txt"
    source.write_text("quiet")
    sdk.upload_data_store_object(str(source), f"{folder}/in.txt")
    result = sdk.run_pipeline(
        name,
        inputs_mapping=[
            InputSource(pipeline_input_name="doc", datastore_path=f"{folder}/in.txt")
        ],
        outputs_mapping=[
            OutputDestination(
                pipeline_output_name="loud",
                datastore_path=f"{folder}/{{execution_id}}.txt",
            )
        ],
    )
    stored = tmp_path / "out.txt"
    sdk.download_data_store_object(
        f"{folder}/{result['execution_id']}.txt", str(stored)
    )
    assert stored.read_text() == "QUIET"
