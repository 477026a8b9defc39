"""CRON schedules of periodic deployments: validate, describe, next runs (UTC).

Framework-light on purpose (strings and datetimes in, strings and datetimes out),
like healthchecks' CronValidator and cron_preview: one validator serves the API,
the deploy wizard and the scheduler, so they can never disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime

from cron_descriptor import ExpressionDescriptor, Options
from croniter import CroniterError, croniter

# Validation runs croniter from a fixed instant: an expression that can never
# fire (Feb 30) fails here instead of surprising the scheduler later.
VALIDATION_START = datetime(2000, 1, 1, tzinfo=UTC)
FIELDS = "<minute> <hour> <day of month> <month> <day of week>"
# (name, lowest, highest) of each field; 7 is Sunday too, as in croniter.
FIELD_RANGES = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
UNREADABLE = (
    "schedule '{expr}' is not a valid CRON expression: each of its 5 fields takes "
    "a number, *, a range (1-5), a list (1,3) or a step (*/15)."
)


def schedule_error(expr: object) -> str | None:
    """None when `expr` is a usable 5-field CRON expression, else a sentence naming schedule."""
    if not isinstance(expr, str) or not expr.strip():
        return (
            f"schedule is required: a CRON expression with 5 fields ({FIELDS}), in UTC."
        )
    fields = expr.split()
    if len(fields) != 5:
        return (
            f"schedule '{expr}' has {len(fields)} field(s); a CRON expression has "
            f"exactly 5 ({FIELDS}), in UTC."
        )
    for field, (label, low, high) in zip(fields, FIELD_RANGES, strict=True):
        problem = _field_problem(field, label, low, high)
        if problem:
            return f"schedule '{expr}': {problem}"
    try:
        croniter(expr, VALIDATION_START).get_next(datetime)
    except CroniterError as exc:
        # croniter raises CroniterBadDateError when no date ever matches (0 0 30 2 *).
        if exc.__class__.__name__ == "CroniterBadDateError":
            return f"schedule '{expr}' never matches any date."
        return UNREADABLE.format(expr=expr)
    except (ValueError, KeyError, IndexError, TypeError):
        return UNREADABLE.format(expr=expr)
    return None


def _field_problem(field: str, label: str, low: int, high: int) -> str | None:
    """Our sentence for a number out of its field's range; None when none is (croniter judges the rest)."""
    for part in field.split(","):
        base, _, step = part.partition("/")
        if step and (not step.isdigit() or int(step) < 1):
            return f"the {label} field's step '/{step}' must be a whole number of 1 or more."
        for number in base.split("-"):
            if number.isdigit() and not low <= int(number) <= high:
                return f"the {label} field is {number}, outside its range {low}-{high}."
    return None


def schedule_describe(expr: str) -> str | None:
    """'Every 2 minutes'; cosmetic, so any failure of the describer gives None."""
    if schedule_error(expr) is not None:
        return None
    options = Options()
    options.use_24hour_time_format = True
    try:
        return ExpressionDescriptor(" ".join(expr.split()), options).get_description()
    except Exception:  # cron-descriptor raises assorted errors; the text is optional
        return None


def _aware_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("schedules need an aware datetime (UTC)")
    return moment.astimezone(UTC)


def schedule_next_runs(expr: str, *, start: datetime, count: int = 5) -> list[datetime]:
    """The next `count` fire times strictly after `start`, as aware UTC datetimes."""
    it = croniter(" ".join(expr.split()), _aware_utc(start))
    runs: list[datetime] = []
    try:
        for _ in range(count):
            runs.append(it.get_next(datetime).astimezone(UTC))
    except CroniterError:
        pass  # a rare expression (Feb 29) may have fewer matches in croniter's window
    return runs


def schedule_next_run(expr: str, *, after: datetime) -> datetime:
    """The first fire time strictly after `after` (UTC aware); ValueError if none."""
    runs = schedule_next_runs(expr, start=after, count=1)
    if not runs:
        raise ValueError(f"schedule '{expr}' never matches any date")
    return runs[0]
