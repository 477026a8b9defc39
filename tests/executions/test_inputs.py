from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from executions.models import EnvironmentVariable
from executions.services import coerce_text, input_values_resolve
from executions.services.inputs import outputs_mapping_resolve
from pipelines.models import Pipeline
from platform_site.http.errors import ValidationFailed


def resolve(pipeline, given=None, files=None, mapping=None, source="run"):
    return {
        r.name: r
        for r in input_values_resolve(
            pipeline=pipeline,
            given=given or {},
            files=files or {},
            inputs_mapping=mapping,
            source=source,
        )
    }


def test_it_accepts_numbers_and_applies_defaults(pipeline):
    resolved = resolve(pipeline, {"number1": 9})
    assert resolved["number1"].value == 9
    assert resolved["number2"].value == 2
    assert resolved["label"].value is None
    assert resolved["number1"].mapping_type == "run"


def test_it_rejects_a_string_for_a_number(pipeline):
    with pytest.raises(ValidationFailed) as exc:
        resolve(pipeline, {"number1": "abc"})
    assert exc.value.message == "Input 'number1' must be a number, got string 'abc'."
    assert exc.value.data == {"input": "number1"}


def test_it_rejects_a_boolean_for_a_number(pipeline):
    with pytest.raises(
        ValidationFailed, match="'number1' must be a number, got boolean"
    ):
        resolve(pipeline, {"number1": True})


def test_it_rejects_a_missing_required_input(pipeline):
    with pytest.raises(ValidationFailed, match="Input 'number1' is required"):
        resolve(pipeline, {"number2": 3})


def test_it_rejects_an_unknown_input(pipeline):
    with pytest.raises(ValidationFailed, match="Unknown input 'zz'"):
        resolve(pipeline, {"number1": 1, "zz": [1]})


@pytest.mark.parametrize(
    ("data_type", "good", "bad"),
    [
        ("boolean", False, "false"),
        ("string", "x", 3),
        ("array", [1], {"a": 1}),
        ("json", {"a": [1]}, None),
    ],
)
def test_it_checks_each_data_type(alice, data_type, good, bad):
    pipeline = Pipeline.objects.create(
        name=f"p-{data_type}",
        function_path="m.py",
        function_name="f",
        inputs=[{"name": "x", "data_type": data_type, "is_required": True}],
    )
    assert resolve(pipeline, {"x": good})["x"].value == good
    with pytest.raises(ValidationFailed, match="'x'"):
        resolve(pipeline, {"x": bad})


def test_it_needs_an_upload_for_a_file_input(alice):
    pipeline = Pipeline.objects.create(
        name="files",
        function_path="m.py",
        function_name="f",
        inputs=[{"name": "doc", "data_type": "file", "is_required": True}],
    )
    with pytest.raises(ValidationFailed, match="Input 'doc' must be a file"):
        resolve(pipeline, {"doc": "path.txt"})
    upload = SimpleUploadedFile("a.txt", b"hello")
    assert resolve(pipeline, files={"doc": upload})["doc"].file is upload


def test_it_maps_a_constant(pipeline):
    mapping = [{"pipeline_input_name": "number1", "constant_value": 5}]
    resolved = resolve(pipeline, {}, mapping=mapping)
    assert resolved["number1"].value == 5
    assert resolved["number1"].mapping_type == "constant"
    assert resolved["number1"].mapping_value == {"constant_value": 5}


def test_it_checks_a_constant_against_the_type(pipeline):
    mapping = [{"pipeline_input_name": "number1", "constant_value": "five"}]
    with pytest.raises(ValidationFailed, match="'number1' must be a number"):
        resolve(pipeline, {}, mapping=mapping)


def test_it_reads_an_environment_variable(pipeline):
    EnvironmentVariable.objects.create(name="N", value="6")
    mapping = [{"pipeline_input_name": "number1", "environment_variable_name": "N"}]
    resolved = resolve(pipeline, {}, mapping=mapping)
    assert resolved["number1"].value == 6
    assert resolved["number1"].mapping_type == "environment_variable"


def test_it_names_a_missing_environment_variable(pipeline):
    mapping = [{"pipeline_input_name": "number1", "environment_variable_name": "NOPE"}]
    with pytest.raises(ValidationFailed, match="environment variable 'NOPE'"):
        resolve(pipeline, {}, mapping=mapping)


def test_it_maps_null(pipeline):
    mapping = [{"pipeline_input_name": "number1", "is_null": True}]
    resolved = resolve(pipeline, {}, mapping=mapping)
    assert resolved["number1"].value is None
    assert resolved["number1"].mapping_value == {"is_null": True}


def test_it_takes_endpoint_values_renamed_to_pipeline_names(pipeline):
    mapping = [
        {
            "pipeline_input_name": "number1",
            "endpoint_input_name": "a",
            "is_required": True,
        },
        {"pipeline_input_name": "number2", "constant_value": 1},
        {"pipeline_input_name": "label", "is_null": True},
    ]
    resolved = resolve(pipeline, {"number1": 4}, mapping=mapping, source="endpoint")
    assert resolved["number1"].mapping_type == "endpoint"
    assert resolved["number1"].mapping_value["endpoint_input_name"] == "a"
    assert resolved["number1"].value == 4


def test_it_maps_unmapped_inputs_to_endpoint_values_of_the_same_name(pipeline):
    resolved = resolve(pipeline, {"number1": 4}, source="endpoint")
    assert resolved["label"].mapping_value == {"endpoint_input_name": "label"}


def test_it_refuses_a_mapping_to_an_unknown_input(pipeline):
    with pytest.raises(ValidationFailed, match="no input 'ghost'"):
        resolve(
            pipeline,
            {"number1": 1},
            mapping=[{"pipeline_input_name": "ghost", "is_null": True}],
        )


def test_it_coerces_form_text():
    assert coerce_text(name="n", data_type="number", raw="3") == 3
    assert coerce_text(name="n", data_type="number", raw="3.5") == 3.5
    assert coerce_text(name="b", data_type="boolean", raw="true") is True
    assert coerce_text(name="a", data_type="array", raw="[1, 2]") == [1, 2]
    with pytest.raises(ValidationFailed, match="'n' must be a number"):
        coerce_text(name="n", data_type="number", raw="x")


def test_a_run_names_an_output_mapped_twice(pipeline):
    twice = [
        {"pipeline_output_name": "total", "is_null": True},
        {"pipeline_output_name": "total", "endpoint_output_name": "sum"},
    ]

    with pytest.raises(ValidationFailed, match="output 'total' is mapped twice") as err:
        outputs_mapping_resolve(pipeline=pipeline, outputs_mapping=twice, source="run")

    assert err.value.data == {"output": "total"}


def test_a_run_refuses_a_mapping_to_an_unknown_output(pipeline):
    with pytest.raises(ValidationFailed, match="has no output 'ghost'"):
        outputs_mapping_resolve(
            pipeline=pipeline,
            outputs_mapping=[{"pipeline_output_name": "ghost", "is_null": True}],
            source="run",
        )
