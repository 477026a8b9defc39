"""What the execution and pipeline pages show of metrics."""

from __future__ import annotations

from typing import Any

from executions.metrics.charts import chart_spec, line_chart, steps_spec
from executions.metrics.selectors import (
    execution_metrics,
    pipeline_list_metric_names,
    pipeline_list_metric_runs,
    pipeline_metric_names,
    pipeline_metric_series,
)
from executions.models import Execution
from pipelines.models import Pipeline


def execution_metrics_context(execution: Execution) -> dict[str, Any]:
    metrics = execution_metrics(execution)
    return {
        "metric_values": metrics.singles,
        "metric_lists": [
            (m, line_chart(m.values), steps_spec([(m.name, m.values)], y_label=m.name))
            for m in metrics.lists
        ],
    }


def pipeline_metrics_context(
    pipeline: Pipeline, selected: str | None, selected_list: str | None = None
) -> dict[str, Any]:
    """One single-value metric over the last executions (the first name by default),
    and one list metric of the last executions overlaid by step."""
    names = pipeline_metric_names(pipeline)
    if selected not in names:
        selected = names[0] if names else None
    series = pipeline_metric_series(pipeline, selected) if selected else []
    list_names = pipeline_list_metric_names(pipeline)
    if selected_list not in list_names:
        selected_list = list_names[0] if list_names else None
    runs = pipeline_list_metric_runs(pipeline, selected_list) if selected_list else []
    return {
        "metric_names": names,
        "metric_selected": selected,
        "metric_series": [(execution_id, value) for execution_id, value, _ in series],
        "metric_chart": line_chart([value for _, value, _ in series]),
        "metric_spec": chart_spec(
            x=[at.timestamp() for _, _, at in series],
            series=[(selected, [value for _, value, _ in series])],
            x_label="Execution start (UTC)",
            y_label=selected or "",
            x_time=True,
        ),
        "list_metric_names": list_names,
        "list_metric_selected": selected_list,
        "list_metric_spec": steps_spec(runs, y_label=selected_list or ""),
    }
