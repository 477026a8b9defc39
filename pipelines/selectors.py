"""Reads of pipelines: lookups and creation logs."""

from __future__ import annotations

from collections.abc import Iterable

from pipelines.models import Pipeline, PipelineLog
from platform_site.http.errors import NotFound
from platform_site.http.log_window import LogWindow


def pipeline_get_or_404(name: str) -> Pipeline:
    pipeline = Pipeline.objects.filter(name=name).first()
    if pipeline is None:
        raise NotFound(f"Pipeline '{name}' not found.")
    return pipeline


def pipeline_logs_list(*, pipeline: Pipeline, window: LogWindow) -> list[PipelineLog]:
    """Creation log lines in the window (platform_site/http/log_window.py), chronological."""
    rows = window.filter(PipelineLog.objects.filter(pipeline=pipeline))
    return list(rows.order_by("timestamp", "id")[: window.max_lines])


def pipeline_logs_after(*, pipeline: Pipeline, after_id: int) -> Iterable[PipelineLog]:
    """Lines after a cursor (the last line id seen), for the live log on the page."""
    return PipelineLog.objects.filter(pipeline=pipeline, id__gt=after_id).order_by("id")
