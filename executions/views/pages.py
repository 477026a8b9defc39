"""View helpers shared by the execution pages: log display and the timeline bar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from executions.models import Execution, LogLine
from executions.services.logs import DISPLAY_LINE_CHARS

LOG_PAGE_LINES = 500


@dataclass
class DisplayLine:
    seq: int
    timestamp: datetime
    stream: str
    text: str
    truncated_chars: int


def display_lines(lines: list[LogLine]) -> list[DisplayLine]:
    """Very long lines are cut for the browser; the API still returns them whole."""
    return [
        DisplayLine(
            seq=line.seq,
            timestamp=line.timestamp,
            stream=line.stream,
            text=line.message[:DISPLAY_LINE_CHARS],
            truncated_chars=max(0, len(line.message) - DISPLAY_LINE_CHARS),
        )
        for line in lines
    ]


@dataclass
class Segment:
    label: str
    seconds: float
    percent: float
    color: str


STAGES = (
    ("Queued", "created_at", "started_at", "#b8c4d6"),
    ("Worker → process", "started_at", "process_started_at", "#8fb3e0"),
    ("Process → function", "process_started_at", "function_started_at", "#f2c46d"),
    ("Function", "function_started_at", "function_ended_at", "#5cb85c"),
    ("Outputs stored", "function_ended_at", "end_date", "#a38bd1"),
)


CUT_SHORT = "Function (stopped before it reported)"


def _cut_short_function(execution: Execution) -> tuple[str, float, str] | None:
    """The Function span of a run stopped before its child reported (a timeout kill).

    The runtime's function timestamps come in the child's final report, which a
    killed child never sends: the function ran from its process's start (or the
    claim) until the execution ended. None when the function's span is known.
    """
    if execution.function_ended_at is not None or not execution.is_final:
        return None
    start = (
        execution.function_started_at
        or execution.process_started_at
        or execution.started_at
    )
    if start is None or execution.end_date is None:
        return None
    seconds = max(0.0, (execution.end_date - start).total_seconds())
    return CUT_SHORT, seconds, STAGES[3][3]


def timeline_segments(execution: Execution) -> list[Segment]:
    """One segment per stage that has both ends, widths proportional to the total."""
    spans = []
    cut_short = _cut_short_function(execution)
    for label, start_field, end_field, color in STAGES:
        start, end = getattr(execution, start_field), getattr(execution, end_field)
        if start is not None and end is not None:
            spans.append((label, max(0.0, (end - start).total_seconds()), color))
    if cut_short is not None:
        # Process → function has no end either: the run is Queued, claimed, then this.
        spans = [s for s in spans if s[0] in ("Queued", "Worker → process")]
        spans.append(cut_short)
    total = sum(s for _, s, _ in spans) or 1.0
    return [Segment(label, s, 100 * s / total, color) for label, s, color in spans]
