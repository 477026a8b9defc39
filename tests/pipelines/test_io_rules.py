"""The one rule book of values and mapping sources that every face uses."""

from __future__ import annotations

import math

import pytest

from datastore.keys import datastore_path_problem
from pipelines.io_rules import INPUT_SOURCES, one_key, parse_text, type_problem


@pytest.mark.parametrize(
    ("raw", "data_type", "expected"),
    [
        ("3", "number", 3),
        ("2.5", "number", 2.5),
        ("1e3", "number", 1000.0),
        ("true", "boolean", True),
        ("Yes", "boolean", True),
        ("off", "boolean", False),
        ("[1, 2]", "array", [1, 2]),
        ('{"k": 1}', "json", {"k": 1}),
        ("hello", "json", "hello"),  # a bare word is a JSON string to a person
        (" keep spaces ", "string", " keep spaces "),
    ],
)
def test_it_parses_typed_text(raw, data_type, expected):
    assert parse_text(raw, data_type) == expected


@pytest.mark.parametrize(
    ("raw", "data_type", "problem"),
    [
        ("three", "number", "must be a number, got string 'three'"),
        ("inf", "number", "must be a finite number"),
        ("maybe", "boolean", "must be a boolean (true or false), got string 'maybe'"),
        ('{"k": 1}', "array", "must be an array, got object"),
        ("[1,", "array", "must be a JSON array, got text that is not JSON"),
        ("{bad json", "json", "must be valid JSON, got '{bad json'"),
    ],
)
def test_it_says_what_typed_text_should_have_been(raw, data_type, problem):
    with pytest.raises(
        ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")
    ):
        parse_text(raw, data_type)


def test_it_checks_decoded_values_against_their_type():
    assert type_problem(3, "number") is None
    assert type_problem(True, "number") == "must be a number, got boolean true"
    assert type_problem(math.nan, "number") == "must be a number, got number NaN"
    assert type_problem("x", "file") == "must be a file, got string 'x'"
    assert type_problem({"any": [1]}, "json") is None


def test_it_wants_exactly_one_source():
    assert one_key({"constant_value": 1}, INPUT_SOURCES, "source") == (
        "constant_value",
        None,
    )
    key, problem = one_key({}, INPUT_SOURCES, "source")
    assert key is None and problem.startswith("needs one source: endpoint_input_name")
    key, problem = one_key(
        {"constant_value": 1, "is_null": True}, INPUT_SOURCES, "source"
    )
    assert key is None
    assert (
        problem
        == "has more than one source (constant_value, is_null); give exactly one"
    )


def test_it_applies_the_data_stores_own_key_rule():
    assert datastore_path_problem("in/data.csv", output=False) is None
    assert datastore_path_problem("out/{execution_id}.json", output=True) is None
    assert datastore_path_problem("out/{execution_id}.json", output=False)
    assert "segments '.' and '..'" in datastore_path_problem("../x", output=True)
    assert datastore_path_problem("", output=False) == (
        "datastore_path must be a non-empty string"
    )
