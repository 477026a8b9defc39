from __future__ import annotations

import pytest

from pipelines.sdk_multipart import FormShapeError, coerce_pipeline_form, rebuild

# The fields the official client sends for the example of docs/sdk-protocol.md §2.2.
CAPTURED = [
    ("pipeline_name", "p1"),
    ("function_path", "src/main.py"),
    ("function_name", "f"),
    ("container_config[language]", "python:3.11-slim"),
    ("container_config[system_dependencies]", ""),
    ("inputs[0][name]", "a"),
    ("inputs[0][data_type]", "string"),
    ("inputs[0][is_required]", "True"),
    ("inputs[0][default_value][k][0]", "1"),
    ("inputs[0][default_value][k][1][z]", ""),
    ("inputs[1][name]", "n"),
    ("inputs[1][data_type]", "number"),
    ("inputs[1][default_value]", "3.5"),
    ("outputs[0][name]", "o"),
    ("outputs[0][data_type]", "json"),
]


def test_it_rebuilds_the_captured_example():
    data = coerce_pipeline_form(rebuild(CAPTURED))

    assert data == {
        "pipeline_name": "p1",
        "function_path": "src/main.py",
        "function_name": "f",
        "container_config": {
            "language": "python:3.11-slim",
            "system_dependencies": None,
        },
        "inputs": [
            {
                "name": "a",
                "data_type": "string",
                "is_required": True,
                "default_value": {"k": ["1", {"z": None}]},
            },
            {"name": "n", "data_type": "number", "default_value": 3.5},
        ],
        "outputs": [{"name": "o", "data_type": "json"}],
    }


def test_it_does_not_depend_on_field_order():
    assert rebuild(reversed(CAPTURED)) == rebuild(CAPTURED)


def test_it_turns_json_empty_leaves_into_null():
    data = coerce_pipeline_form(
        rebuild(
            [
                ("inputs[0][name]", "j"),
                ("inputs[0][data_type]", "json"),
                ("inputs[0][default_value][k][1][z]", ""),
                ("inputs[0][default_value][k][0]", "1"),
            ]
        )
    )

    assert data["inputs"][0]["default_value"] == {"k": ["1", {"z": None}]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("True", True), ("False", False), ("true", True), ("0", False), ("1", True)],
)
def test_it_coerces_is_required(text, expected):
    data = coerce_pipeline_form(
        rebuild([("inputs[0][name]", "a"), ("inputs[0][is_required]", text)])
    )

    assert data["inputs"][0]["is_required"] is expected


@pytest.mark.parametrize(
    ("data_type", "text", "expected"),
    [
        ("number", "3", 3),
        ("number", "-2.5", -2.5),
        ("boolean", "False", False),
        ("string", "3", "3"),
        ("array", None, ["x", "y"]),
    ],
)
def test_it_coerces_default_values_by_type(data_type, text, expected):
    fields = [("inputs[0][name]", "a"), ("inputs[0][data_type]", data_type)]
    if text is None:
        fields += [
            ("inputs[0][default_value][1]", "y"),
            ("inputs[0][default_value][0]", "x"),
        ]
    else:
        fields.append(("inputs[0][default_value]", text))

    data = coerce_pipeline_form(rebuild(fields))

    assert data["inputs"][0]["default_value"] == expected


def test_it_leaves_a_bad_number_for_validation_to_report():
    data = coerce_pipeline_form(
        rebuild(
            [
                ("inputs[0][data_type]", "number"),
                ("inputs[0][default_value]", "abc"),
            ]
        )
    )

    assert data["inputs"][0]["default_value"] == "abc"


def test_it_keeps_sparse_indices_as_a_dict():
    assert rebuild([("a[0]", "x"), ("a[2]", "y")]) == {"a": {"0": "x", "2": "y"}}


def test_it_keeps_unicode_digit_keys_as_a_dict():
    # "³".isdigit() is True; found by the OpenAPI fuzz run.
    assert rebuild([("a[³]", "x")]) == {"a": {"³": "x"}}


def test_it_refuses_a_value_that_is_also_a_structure():
    with pytest.raises(FormShapeError):
        rebuild([("a", "x"), ("a[b]", "y")])


def test_it_refuses_malformed_keys():
    with pytest.raises(FormShapeError):
        rebuild([("a[b", "x")])
