from __future__ import annotations

from django.utils import timezone

from executions.models import IoDirection, LogLine
from executions.replays.compare import (
    MISSING,
    execution_compare,
    first_log_difference,
    json_diff,
)


def test_json_diff_names_each_differing_leaf():
    a = {"x": 1, "y": [1, 2], "z": {"k": "v"}}
    b = {"x": 1, "y": [1, 3, 4], "z": {}}
    assert json_diff(a, b) == [
        ("$.y[1]", 2, 3),
        ("$.y[2]", MISSING, 4),
        ("$.z.k", "v", MISSING),
    ]


def test_json_diff_tells_types_apart():
    assert json_diff(1, 1.0) == [("$", 1, 1.0)]
    assert json_diff(True, 1) == [("$", True, 1)]
    assert json_diff({"a": None}, {"a": None}) == []


def log(execution, *messages):
    for seq, message in enumerate(messages, start=1):
        LogLine.objects.create(
            execution=execution,
            seq=seq,
            timestamp=timezone.now(),
            stream="stdout",
            message=message,
        )


def test_it_finds_the_first_differing_log_line(make_execution):
    a, b = make_execution(), make_execution()
    log(a, "start", "loss 0.5", "end")
    log(b, "start", "loss 0.4", "end")
    difference = first_log_difference(a, b)
    assert (difference.line_number, difference.a, difference.b) == (
        2,
        "loss 0.5",
        "loss 0.4",
    )


def test_a_shorter_log_differs_where_it_ends(make_execution):
    a, b = make_execution(), make_execution()
    log(a, "same")
    log(b, "same", "more")
    difference = first_log_difference(a, b)
    assert (difference.line_number, difference.a, difference.b) == (2, None, "more")
    assert first_log_difference(a, a) is None


def test_it_compares_inputs_and_outputs(make_execution):
    a, b = make_execution(number1=1), make_execution(number1=2)
    a.io.filter(direction=IoDirection.OUTPUT).update(value={"t": [1, 2]})
    b.io.filter(direction=IoDirection.OUTPUT).update(value={"t": [1, 5]})
    result = execution_compare(a, b)
    number1 = next(r for r in result["inputs"] if r.name == "number1")
    assert number1.differs and (number1.a, number1.b) == ("1", "2")
    total = result["outputs"][0]
    assert total.diffs == [("$.t[1]", "2", "5")] and total.nested
    assert result["a"]["status"] == "Pending"
