from __future__ import annotations

from executions.metrics.charts import (
    HEIGHT,
    MAX_POINTS,
    chart_spec,
    line_chart,
    steps_spec,
)


def test_it_draws_nothing_for_no_values():
    assert line_chart([]) is None


def test_it_spans_the_box_from_low_to_high():
    chart = line_chart([0, 10, 5])
    first, middle, last = chart.points.split()
    assert first.endswith(f",{HEIGHT - 6:.1f}")  # the lowest value at the bottom
    assert middle.endswith(",6.0")  # the highest at the top
    assert (chart.minimum, chart.maximum, chart.last, chart.count) == (0, 10, 5, 3)


def test_a_flat_series_is_a_line_through_the_middle():
    chart = line_chart([2, 2])
    assert {p.split(",")[1] for p in chart.points.split()} == {f"{HEIGHT / 2:.1f}"}


def test_it_thins_long_series_but_keeps_the_last_value():
    chart = line_chart(list(range(10_000)))
    assert len(chart.points.split()) == MAX_POINTS + 1
    assert chart.count == 10_000
    assert chart.last == 9_999


def test_it_overlays_runs_by_step_padding_shorter_ones():
    spec = steps_spec([("a", [1.0, 0.5, 0.25]), ("b", [2.0])], y_label="losses")
    assert spec["x"] == [1, 2, 3]
    assert spec["series"] == [
        {"label": "a", "values": [1.0, 0.5, 0.25]},
        {"label": "b", "values": [2.0, None, None]},
    ]
    assert (spec["x_label"], spec["y_label"], spec["x_time"]) == (
        "Step",
        "losses",
        False,
    )


def test_a_spec_is_none_without_points():
    assert steps_spec([], y_label="x") is None
    assert chart_spec(x=[], series=[("a", [])], x_label="t", y_label="v") is None
