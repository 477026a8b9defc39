from __future__ import annotations

import math

import pytest

from runtime.outputs import OutputError, check_outputs


def _outputs(**types: str) -> list[dict]:
    return [{"name": name, "data_type": kind} for name, kind in types.items()]


def test_it_keeps_only_declared_outputs():
    assert check_outputs({"a": 1, "b": 2}, _outputs(a="number")) == {"a": 1}


def test_it_accepts_none_when_no_outputs_are_declared():
    assert check_outputs(None, []) == {}


@pytest.mark.parametrize(
    ("data_type", "value", "reason"),
    [
        ("number", True, "Output 'x' must be a number, got bool"),
        ("number", "1", "Output 'x' must be a number, got str"),
        ("number", math.nan, "Output 'x' must be a finite number, got nan"),
        ("string", 1, "Output 'x' must be a string, got int"),
        ("boolean", 0, "Output 'x' must be a boolean, got int"),
        ("array", (1, 2), "Output 'x' must be an array (list), got tuple"),
        (
            "json",
            {1, 2},
            "Output 'x' must be JSON-serialisable: Object of type set is not JSON serializable",
        ),
        ("file", 3, "Output 'x' must be a file ({'path': ...} or a path), got int"),
        (
            "file",
            "/nonexistent/file",
            "Output 'x' must be an existing file, got '/nonexistent/file'",
        ),
    ],
)
def test_it_names_a_wrong_typed_output(data_type, value, reason):
    with pytest.raises(OutputError) as error:
        check_outputs({"x": value}, _outputs(x=data_type))

    assert str(error.value) == reason


def test_it_needs_a_dict_when_outputs_are_declared():
    with pytest.raises(OutputError) as error:
        check_outputs([1], _outputs(a="number", b="string"))

    assert (
        str(error.value)
        == "The function must return a dict with the outputs 'a', 'b', got list"
    )


def test_it_accepts_file_outputs_as_dict_or_path(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("a,b\n")

    outputs = check_outputs(
        {"x": {"path": str(path)}, "y": path}, _outputs(x="file", y="file")
    )

    assert outputs == {"x": {"path": str(path)}, "y": {"path": str(path)}}


@pytest.mark.parametrize(
    ("data_type", "value"),
    [("string", "a\x00b"), ("json", {"k": ["x\x00"]}), ("array", [{"a\x00": 1}])],
)
def test_it_refuses_a_nul_character_the_database_cannot_store(data_type, value):
    with pytest.raises(OutputError, match="NUL character"):
        check_outputs({"out": value}, [{"name": "out", "data_type": data_type}])
