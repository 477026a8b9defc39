"""Two executions side by side: what differs in their inputs, outputs, timings and logs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from executions.models import Execution, IoDirection, LogLine
from platform_site.http.units import iso

MISSING = object()
MAX_DIFFS = 200  # per output, so a huge JSON does not make a huge page
LOG_CHUNK = 2000


def json_diff(a: Any, b: Any, path: str = "$") -> list[tuple[str, Any, Any]]:
    """(path, a, b) for every leaf that differs; MISSING marks an absent side."""
    if isinstance(a, dict) and isinstance(b, dict):
        diffs = []
        for key in sorted(set(a) | set(b), key=str):
            diffs += json_diff(
                a.get(key, MISSING), b.get(key, MISSING), f"{path}.{key}"
            )
        return diffs
    if isinstance(a, list) and isinstance(b, list):
        diffs = []
        for i, (x, y) in enumerate(zip_longest(a, b, fillvalue=MISSING)):
            diffs += json_diff(x, y, f"{path}[{i}]")
        return diffs
    if a is MISSING and b is MISSING:
        return []
    same = type(a) is type(b) and a == b
    return [] if same else [(path, a, b)]


def shown(value: Any) -> str:
    return "(absent)" if value is MISSING else json.dumps(value)


@dataclass
class IoRow:
    name: str
    a: str
    b: str
    differs: bool
    diffs: list[tuple[str, str, str]]

    @property
    def nested(self) -> bool:
        """Whether the difference is inside the value (worth listing path by path)."""
        return any(path != "$" for path, _, _ in self.diffs)


def _values(execution: Execution, direction: str) -> dict[str, Any]:
    values = {}
    for row in execution.io.filter(direction=direction):
        if row.data_type == "file":
            values[row.name] = (
                {"file": row.file_path.rsplit("/", 1)[-1]} if row.file_path else None
            )
        else:
            values[row.name] = row.value
    return values


def io_rows(a: Execution, b: Execution, direction: str) -> list[IoRow]:
    left, right = _values(a, direction), _values(b, direction)
    rows = []
    for name in sorted(set(left) | set(right)):
        x, y = left.get(name, MISSING), right.get(name, MISSING)
        diffs = json_diff(x, y)
        rows.append(
            IoRow(
                name=name,
                a=shown(x),
                b=shown(y),
                differs=bool(diffs),
                diffs=[(p, shown(u), shown(v)) for p, u, v in diffs[:MAX_DIFFS]],
            )
        )
    return rows


@dataclass
class FirstLogDifference:
    line_number: int  # 1-based
    a: str | None  # None: that log ended before
    b: str | None


def _messages(execution: Execution):
    # Streamed in order, a chunk at a time: logs can hold 100,000 lines.
    return (
        LogLine.objects.filter(execution=execution)
        .order_by("seq")
        .values_list("message", flat=True)
        .iterator(chunk_size=LOG_CHUNK)
    )


def first_log_difference(a: Execution, b: Execution) -> FirstLogDifference | None:
    """The first line where the two logs differ; None when they are the same."""
    for number, (x, y) in enumerate(zip_longest(_messages(a), _messages(b)), start=1):
        if x != y:
            return FirstLogDifference(line_number=number, a=x, b=y)
    return None


def _seconds(start, end) -> float | None:
    return (end - start).total_seconds() if start and end else None


def facts(execution: Execution) -> dict[str, Any]:
    return {
        "execution_id": execution.execution_id,
        "pipeline_name": execution.pipeline_name,
        "deployment_name": execution.deployment_name,
        "status": execution.status,
        "status_reason": execution.status_reason,
        "created_at": iso(execution.created_at),
        "total_s": _seconds(execution.created_at, execution.end_date),
        "queued_s": _seconds(execution.created_at, execution.started_at),
        "function_s": _seconds(
            execution.function_started_at, execution.function_ended_at
        ),
        "peak_memory_kib": execution.peak_memory_kib,
        "cpu_seconds": execution.cpu_seconds,
    }


def execution_compare(a: Execution, b: Execution) -> dict[str, Any]:
    return {
        "a": facts(a),
        "b": facts(b),
        "inputs": io_rows(a, b, IoDirection.INPUT),
        "outputs": io_rows(a, b, IoDirection.OUTPUT),
        "first_log_difference": first_log_difference(a, b),
    }
