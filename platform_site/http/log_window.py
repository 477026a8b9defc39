"""The window of log lines the SDK's get_*_logs ask for, one rule for every log route.

Body: any subset of {"from": <epoch ms>, "to": <epoch ms>, "limit": <int>}
(docs/sdk-protocol.md §2.9): `from` inclusive, `to` exclusive, the first
`limit` lines after filtering, oldest first. Without a limit a window is still
bounded: a runaway execution must not exhaust the web process.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from django.db.models import Model, QuerySet
from ninja import Field, Schema
from pydantic import StrictInt, field_validator

MAX_LINES = 100_000

M = TypeVar("M", bound=Model)


class LogWindow(Schema):
    start: datetime | None = Field(None, alias="from")
    end: datetime | None = Field(None, alias="to")
    limit: Annotated[StrictInt, Field(ge=0)] | None = None

    @field_validator("start", "end", mode="plain")
    @classmethod
    def _from_milliseconds(cls, value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a timestamp in epoch milliseconds")
        try:
            return datetime.fromtimestamp(value / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError("timestamp out of range") from None

    @property
    def max_lines(self) -> int:
        return min(self.limit, MAX_LINES) if self.limit is not None else MAX_LINES

    def filter(self, lines: QuerySet[M], field: str = "timestamp") -> QuerySet[M]:
        """`lines` within [from, to); ordering and the limit are the caller's."""
        if self.start is not None:
            lines = lines.filter(**{f"{field}__gte": self.start})
        if self.end is not None:
            lines = lines.filter(**{f"{field}__lt": self.end})
        return lines
