"""Reads of pipelines: lookups and creation logs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pipelines.models import Pipeline, PipelineLog
from platform_site.http.errors import NotFound, ValidationFailed


def pipeline_get_or_404(name: str) -> Pipeline:
    pipeline = Pipeline.objects.filter(name=name).first()
    if pipeline is None:
        raise NotFound(f"Pipeline '{name}' not found.")
    return pipeline


def _from_ms(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{field}: must be a timestamp in milliseconds")
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValidationFailed(f"{field}: timestamp out of range") from None


def pipeline_logs_list(
    *,
    pipeline: Pipeline,
    from_ms: Any = None,
    to_ms: Any = None,
    limit: Any = None,
) -> list[PipelineLog]:
    """Creation log lines, chronological: `from` inclusive, `to` exclusive, first `limit`."""
    rows = PipelineLog.objects.filter(pipeline=pipeline).order_by("timestamp", "id")
    start = _from_ms(from_ms, "from")
    end = _from_ms(to_ms, "to")
    if start is not None:
        rows = rows.filter(timestamp__gte=start)
    if end is not None:
        rows = rows.filter(timestamp__lt=end)
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValidationFailed("limit: must be a positive integer")
        rows = rows[:limit]
    return list(rows)


def pipeline_logs_after(*, pipeline: Pipeline, after_id: int) -> Iterable[PipelineLog]:
    """Lines after a cursor (the last line id seen), for the live log on the page."""
    return PipelineLog.objects.filter(pipeline=pipeline, id__gt=after_id).order_by("id")
