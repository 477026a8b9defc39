"""What the execution and pipeline pages show of metrics."""

from __future__ import annotations

from typing import Any

from deployments.models import Pipeline
from executions.models import Execution
from metrics.charts import line_chart
from metrics.selectors import (
    execution_metrics,
    pipeline_metric_names,
    pipeline_metric_series,
)


def execution_metrics_context(execution: Execution) -> dict[str, Any]:
    metrics = execution_metrics(execution)
    return {
        "metric_values": metrics.singles,
        "metric_lists": [(m, line_chart(m.values)) for m in metrics.lists],
    }


def pipeline_metrics_context(
    pipeline: Pipeline, selected: str | None
) -> dict[str, Any]:
    """The chart of one single-value metric over the last executions (the first name by default)."""
    names = pipeline_metric_names(pipeline)
    if selected not in names:
        selected = names[0] if names else None
    series = pipeline_metric_series(pipeline, selected) if selected else []
    return {
        "metric_names": names,
        "metric_selected": selected,
        "metric_series": series,
        "metric_chart": line_chart([value for _, value in series]),
    }
