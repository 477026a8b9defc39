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
