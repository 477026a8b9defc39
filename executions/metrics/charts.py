"""Small line charts as server-rendered SVG: coordinates only, the template draws them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 320
HEIGHT = 100
PAD = 6
MAX_POINTS = 500  # longer series are thinned so the page stays small


@dataclass(frozen=True)
class LineChart:
    points: str  # the polyline's "x,y x,y ..." in the WIDTH x HEIGHT box
    minimum: float
    maximum: float
    last: float
    count: int
    width: int = WIDTH
    height: int = HEIGHT


def _thin(values: Sequence[float]) -> list[float]:
    if len(values) <= MAX_POINTS:
        return list(values)
    step = len(values) / MAX_POINTS
    return [values[int(i * step)] for i in range(MAX_POINTS)] + [values[-1]]


def line_chart(values: Sequence[float]) -> LineChart | None:
    """A chart of `values` in order; None when there is nothing to draw."""
    if not values:
        return None
    shown = _thin(values)
    low, high = min(shown), max(shown)
    span = (high - low) or 1.0  # a flat series draws a line through the middle
    steps = max(len(shown) - 1, 1)
    coords = []
    for i, value in enumerate(shown):
        x = PAD + (WIDTH - 2 * PAD) * i / steps
        y = (
            HEIGHT / 2
            if high == low
            else HEIGHT - PAD - (HEIGHT - 2 * PAD) * (value - low) / span
        )
        coords.append(f"{x:.1f},{y:.1f}")
    return LineChart(
        points=" ".join(coords),
        minimum=min(values),
        maximum=max(values),
        last=values[-1],
        count=len(values),
    )


# Interactive charts (static/js/charts.js draws them with the vendored uPlot):
# the data as uPlot takes it, columns sharing one x, None where a series has no point.


def chart_spec(
    *,
    x: Sequence[float],
    series: Sequence[tuple[str, Sequence[float | None]]],
    x_label: str,
    y_label: str,
    x_time: bool = False,
) -> dict | None:
    """What charts.js reads from the page (json_script); None when there is nothing to draw."""
    if not x or not series:
        return None
    return {
        "x": list(x),
        "x_label": x_label,
        "x_time": x_time,
        "y_label": y_label,
        "series": [
            {"label": label, "values": list(values)} for label, values in series
        ],
    }


def steps_spec(
    runs: Sequence[tuple[str, Sequence[float]]], *, y_label: str
) -> dict | None:
    """Several list metrics overlaid by step (1, 2, ...): one series per run."""
    longest = max((len(values) for _, values in runs), default=0)
    padded = [
        (label, [*values, *[None] * (longest - len(values))]) for label, values in runs
    ]
    return chart_spec(
        x=list(range(1, longest + 1)),
        series=padded,
        x_label="Step",
        y_label=y_label,
    )
