"""Recording metrics from inside an execution (docs/sdk-protocol.md §8)."""

from __future__ import annotations

import math
import re
from typing import Any

from django.db import transaction

from executions.models import Execution, MetricKind, PipelineMetric
from platform_site.http.errors import ValidationFailed

MAX_LIST_VALUES_PER_CALL = 10_000  # the client's batch size
MAX_LIST_VALUES = 1_000_000  # per list metric, so one execution cannot fill the disk
NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,200}$")
BAD_NAME = "Metric names are 1 to 200 letters, digits, '_', '-' or '.'."


def _check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise ValidationFailed(BAD_NAME, field="name")


def _number(value: Any, *, field: str) -> float:
    # bool is an int to Python, but never a metric; NaN and infinities are not JSON.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationFailed(f"{field} must be a number.", field=field)
    number = float(value)
    if not math.isfinite(number):
        raise ValidationFailed(f"{field} must be a finite number.", field=field)
    return number


def metric_record_value(*, execution: Execution, name: str, value: Any) -> None:
    """Create or replace the execution's single-value metric `name`."""
    _check_name(name)
    number = _number(value, field="value")
    PipelineMetric.objects.update_or_create(
        execution=execution,
        kind=MetricKind.SINGLE,
        name=name,
        defaults={"value": number},
    )


def metric_record_list_values(*, execution: Execution, name: str, values: Any) -> None:
    """Append `values` to the execution's list metric `name`, in call order."""
    _check_name(name)
    if not isinstance(values, list):
        raise ValidationFailed("values must be a list of numbers.", field="values")
    if len(values) > MAX_LIST_VALUES_PER_CALL:
        raise ValidationFailed(
            f"values holds at most {MAX_LIST_VALUES_PER_CALL} numbers per call.",
            field="values",
        )
    numbers = [_number(v, field="values") for v in values]
    with transaction.atomic():
        # The row lock orders concurrent appends (threads of one execution).
        metric, _ = PipelineMetric.objects.select_for_update().get_or_create(
            execution=execution, kind=MetricKind.LIST, name=name
        )
        if len(metric.values) + len(numbers) > MAX_LIST_VALUES:
            raise ValidationFailed(
                f"A list metric holds at most {MAX_LIST_VALUES} values.",
                field="values",
            )
        metric.values = metric.values + numbers
        metric.save(update_fields=["values", "updated_at"])
