from __future__ import annotations

from types import SimpleNamespace

import pytest

from deployments.mapping_rules import sources_for
from deployments.mappings import mappings_resolve, mappings_update
from platform_site.http.errors import ValidationFailed

PIPELINE = SimpleNamespace(
    name="calc",
    inputs=[
        {"name": "number1", "data_type": "number"},
        {"name": "label", "data_type": "string"},
        {"name": "upload", "data_type": "file"},
    ],
    outputs=[{"name": "number3", "data_type": "number"}],
)


def resolve(rule="endpoint", inputs=None, outputs=None):
    return mappings_resolve(
        pipeline=PIPELINE,
        execution_rule=rule,
        inputs_mapping=inputs,
        outputs_mapping=outputs,
    )


def rejected(rule="endpoint", inputs=None, outputs=None) -> str:
    with pytest.raises(ValidationFailed) as caught:
        resolve(rule, inputs, outputs)
    return caught.value.message


def test_it_auto_maps_every_unmapped_endpoint_input_and_output():
    inputs, outputs = resolve()

    assert inputs == [
        {"pipeline_input_name": "number1", "endpoint_input_name": "number1"},
        {"pipeline_input_name": "label", "endpoint_input_name": "label"},
        {"pipeline_input_name": "upload", "endpoint_input_name": "upload"},
    ]
    assert outputs == [
        {"pipeline_output_name": "number3", "endpoint_output_name": "number3"}
    ]


def test_it_keeps_renamed_endpoint_inputs_and_auto_maps_the_rest():
    inputs, outputs = resolve(
        inputs=[
            {
                "pipeline_input_name": "number1",
                "endpoint_input_name": "a",
                "is_required": True,
                "default_value": 3,
            }
        ],
        outputs=[{"pipeline_output_name": "number3", "endpoint_output_name": "result"}],
    )

    assert inputs[0] == {
        "pipeline_input_name": "number1",
        "endpoint_input_name": "a",
        "is_required": True,
        "default_value": 3,
    }
    assert inputs[1]["endpoint_input_name"] == "label"
    assert outputs[0]["endpoint_output_name"] == "result"


def test_it_refuses_a_constant_of_the_wrong_type():
    message = rejected(
        inputs=[{"pipeline_input_name": "number1", "constant_value": "x"}]
    )

    assert "number1" in message and "number" in message


def test_it_refuses_a_constant_for_a_file_input():
    message = rejected(
        inputs=[{"pipeline_input_name": "upload", "constant_value": "x"}]
    )

    assert "upload" in message and "file" in message


def test_it_refuses_an_environment_variable_on_an_output():
    message = rejected(
        outputs=[{"pipeline_output_name": "number3", "environment_variable_name": "X"}]
    )

    assert "number3" in message and "inputs only" in message


def test_it_refuses_endpoint_mappings_on_periodic_deployments():
    message = rejected(
        "periodic",
        inputs=[
            {"pipeline_input_name": "number1", "endpoint_input_name": "a"},
            {"pipeline_input_name": "label", "is_null": True},
            {"pipeline_input_name": "upload", "is_null": True},
        ],
        outputs=[{"pipeline_output_name": "number3", "is_null": True}],
    )

    assert "number1" in message and "endpoint" in message


def test_it_names_every_unmapped_periodic_input_and_output():
    message = rejected(
        "periodic", inputs=[{"pipeline_input_name": "number1", "constant_value": 1}]
    )

    assert "'label'" in message and "'upload'" in message and "'number3'" in message
    assert "'number1'" not in message


def test_it_accepts_a_fully_mapped_periodic_deployment():
    inputs, outputs = resolve(
        "periodic",
        inputs=[
            {"pipeline_input_name": "number1", "constant_value": 2.5},
            {"pipeline_input_name": "label", "environment_variable_name": "LABEL"},
            {"pipeline_input_name": "upload", "datastore_path": "in/data.csv"},
        ],
        outputs=[
            {"pipeline_output_name": "number3", "datastore_path": "out/{date}.json"}
        ],
    )

    assert [list(m)[1] for m in inputs] == [
        "constant_value",
        "environment_variable_name",
        "datastore_path",
    ]
    assert outputs[0]["datastore_path"] == "out/{date}.json"


def test_it_refuses_two_mappings_of_one_input():
    message = rejected(
        inputs=[
            {"pipeline_input_name": "label", "constant_value": "a"},
            {"pipeline_input_name": "label", "is_null": True},
        ]
    )

    assert "'label'" in message and "more than once" in message


def test_it_refuses_a_mapping_naming_no_pipeline_input():
    message = rejected(inputs=[{"pipeline_input_name": "nope", "is_null": True}])

    assert "'nope'" in message


def test_it_refuses_more_than_one_source_in_one_mapping():
    message = rejected(
        inputs=[
            {"pipeline_input_name": "label", "constant_value": "a", "is_null": True}
        ]
    )

    assert "'label'" in message and "more than one source" in message


def test_it_allows_is_required_only_with_an_endpoint_input():
    message = rejected(
        inputs=[
            {"pipeline_input_name": "label", "constant_value": "a", "is_required": True}
        ]
    )

    assert "'label'" in message and "endpoint_input_name" in message


@pytest.mark.parametrize(
    "path",
    [
        "../x",
        "..%2fx",
        "%2e%2e/",
        "\\..\\x",
        "x#/../../etc/passwd",
        "/abs",
        "a/../b",
        "a\x00b",
        "a/./b",
    ],
)
def test_it_refuses_data_store_paths_outside_the_allow_list(path):
    message = rejected(
        inputs=[{"pipeline_input_name": "upload", "datastore_path": path}]
    )

    assert "'upload'" in message and "datastore_path" in message


def test_it_refuses_two_inputs_on_one_endpoint_name():
    message = rejected(
        inputs=[{"pipeline_input_name": "number1", "endpoint_input_name": "label"}]
    )

    assert "'label'" in message


def test_it_lists_sources_per_rule_and_type():
    assert sources_for("endpoint", "file", "input") == [
        "endpoint",
        "datastore",
        "is_null",
    ]
    assert sources_for("periodic", "number", "input") == [
        "constant",
        "environment_variable",
        "datastore",
        "is_null",
    ]
    assert sources_for("periodic", "number", "output") == ["datastore", "is_null"]
    assert sources_for("endpoint", "json", "output") == [
        "endpoint",
        "datastore",
        "is_null",
    ]


def test_it_updates_a_constant_value_but_never_the_mapping_type():
    current = [
        {"pipeline_input_name": "number1", "constant_value": 1},
        {"pipeline_input_name": "label", "endpoint_input_name": "label"},
    ]

    updated = mappings_update(
        current=current,
        changes=[{"pipeline_input_name": "number1", "constant_value": 7}],
        direction="input",
        specs=PIPELINE.inputs,
        where="inputs_mapping",
    )
    assert updated[0]["constant_value"] == 7

    with pytest.raises(ValidationFailed, match="label"):
        mappings_update(
            current=current,
            changes=[{"pipeline_input_name": "label", "constant_value": "x"}],
            direction="input",
            specs=PIPELINE.inputs,
            where="inputs_mapping",
        )


def test_it_refuses_a_required_input_mapped_to_null():
    pipeline = SimpleNamespace(
        name="calc",
        inputs=[{"name": "n", "data_type": "number", "is_required": True}],
        outputs=[],
    )
    with pytest.raises(ValidationFailed, match="is required: map it to a value"):
        mappings_resolve(
            pipeline=pipeline,
            execution_rule="periodic",
            inputs_mapping=[{"pipeline_input_name": "n", "is_null": True}],
            outputs_mapping=[],
        )
