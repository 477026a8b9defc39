"""What a deployment may be: names, execution settings, triggers, and the sentences that refuse the rest.

deployment_create and deployment_update (deployments.py) raise the first
problem; the Deploy wizard shows every problem beside its field
(deployment_settings_problems, deployment_name_problem), so both faces use
these rules and these sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from deployments.endpoints.tokens import token_format_error, token_generate
from deployments.models import Deployment, DeploymentMode, ExecutionRule
from deployments.pods.resources import gpu_count
from deployments.schedules import schedule_error, schedule_next_run
from deployments.selectors import machine_total_ram_mib
from pipelines.models import NAME_PATTERN, NAME_RULE, Pipeline, PipelineStatus
from platform_site.http.errors import Conflict, ValidationFailed
from platform_site.http.units import ram_request_mib

ELASTIC_NO_REQUESTS = (
    "{field} is only for low-latency deployments (mode='low_latency'): "
    "elastic executions get the platform's per-execution limits."
)
GPU_UNAVAILABLE = "gpu_request {wanted} cannot be met: this machine has {count} GPU(s)."
RESERVED_URL_PATHS = ("v1",)
# Names that would shadow a page of the UI (deployments/cron-preview/).
RESERVED_DEPLOYMENT_NAMES = ("cron-preview",)
# -- messages (tests use these constants, not the sentences) -------------------------

NAME_INVALID = "{field} {value!r} is invalid: use " + NAME_RULE + "."
NAME_RESERVED = "{field} '{value}' is reserved; choose another."
INTEGER_TOO_SMALL = "{field} must be an integer >= {minimum}."
RULE_INVALID = "execution_rule must be 'endpoint' or 'periodic', got {value!r}."
MODE_INVALID = "mode must be 'elastic' or 'low_latency', got {value!r}."
DESCRIPTION_INVALID = "description must be a string."
PARALLEL_INVALID = "enable_parallel_executions must be true or false."
RAM_INVALID = (
    "ram_request {value!r} is invalid: use a whole number followed by "
    "KiB, MiB or GiB, for example '512MiB' or '1GiB'."
)
PIPELINE_NOT_READY = (
    "pipeline_name: pipeline '{name}' is not ready (status {status}); "
    "deploy it once it is ready."
)
ENDPOINT_ONLY = (
    "endpoint_url_path and endpoint_token are only for endpoint deployments."
)
PERIODIC_ONLY = "schedule is only for periodic deployments."
NAME_TAKEN = "A deployment named '{name}' already exists."
# A pod's Python alone takes tens of MiB: less cannot even start the function.
RAM_MIN_MIB = 64
RAM_TOO_SMALL = (
    "ram_request {value!r} is too small: a pod needs at least {minimum} MiB "
    "to start Python and your function."
)
RAM_TOO_BIG = (
    "ram_request {value!r} ({mib} MiB) is more than this machine's total RAM "
    "({total} MiB)."
)
URL_PATH_TAKEN = "endpoint_url_path '{path}' is already used by deployment '{owner}'."
NAME_OR_URL_PATH_TAKEN = (
    "A deployment named '{name}' (or with this endpoint_url_path) already exists."
)


# -- validation helpers --------------------------------------------------------


def check_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not re.match(NAME_PATTERN, value):
        raise ValidationFailed(
            NAME_INVALID.format(field=field, value=value), field=field
        )
    return value


def check_identity(*, name: Any, execution_rule: Any, description: Any) -> None:
    check_name(name, "name")
    if name in RESERVED_DEPLOYMENT_NAMES:
        raise ValidationFailed(
            NAME_RESERVED.format(field="name", value=name), field="name"
        )
    if execution_rule not in ExecutionRule.values:
        raise ValidationFailed(
            RULE_INVALID.format(value=execution_rule), field="execution_rule"
        )
    if description is not None and not isinstance(description, str):
        raise ValidationFailed(DESCRIPTION_INVALID, field="description")


def deployment_settings_problems(
    *,
    mode: Any,
    enable_parallel_executions: Any = None,
    max_parallel_executions_per_pod: Any = None,
    ram_request: Any = None,
    gpu_request: Any = None,
    execution_timeout_s: Any = None,
) -> dict[str, str]:
    """Every problem of a deployment's execution settings, by field; empty when all are fine.

    deployment_create raises the first; the Deploy wizard shows them all beside
    their fields, so both faces use these rules and these sentences.
    """
    problems: dict[str, str] = {}
    if mode not in DeploymentMode.values:
        problems["mode"] = MODE_INVALID.format(value=mode)
    if mode == DeploymentMode.ELASTIC:
        for field, value in (
            ("ram_request", ram_request),
            ("gpu_request", gpu_request),
        ):
            if value:
                problems[field] = ELASTIC_NO_REQUESTS.format(field=field)
    if enable_parallel_executions is not None and not isinstance(
        enable_parallel_executions, bool
    ):
        problems["enable_parallel_executions"] = PARALLEL_INVALID
    for field, value, minimum in (
        ("max_parallel_executions_per_pod", max_parallel_executions_per_pod, 1),
        ("gpu_request", gpu_request, 0),
        ("execution_timeout_s", execution_timeout_s, 1),
    ):
        problem = _integer_problem(value, field, minimum=minimum)
        if problem and field not in problems:
            problems[field] = problem
    if "gpu_request" not in problems and gpu_request and gpu_request > gpu_count():
        problems["gpu_request"] = GPU_UNAVAILABLE.format(
            wanted=gpu_request, count=gpu_count()
        )
    if "ram_request" not in problems:
        problem = _ram_problem(ram_request)
        if problem:
            problems["ram_request"] = problem
    return problems


def _integer_problem(value: Any, field: str, *, minimum: int) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return INTEGER_TOO_SMALL.format(field=field, minimum=minimum)
    return None


def _ram_problem(ram_request: Any) -> str | None:
    if ram_request is None:
        return None
    mib = ram_request_mib(ram_request) if isinstance(ram_request, str) else None
    if mib is None:
        return RAM_INVALID.format(value=ram_request)
    if mib < RAM_MIN_MIB:
        return RAM_TOO_SMALL.format(value=ram_request, minimum=RAM_MIN_MIB)
    total = machine_total_ram_mib()
    # 0 means the machine's size is unknown: nothing to compare with.
    if total and mib > total:
        return RAM_TOO_BIG.format(value=ram_request, mib=mib, total=total)
    return None


def check_settings(**settings: Any) -> None:
    problems = deployment_settings_problems(**settings)
    if problems:
        field, message = next(iter(problems.items()))
        raise ValidationFailed(message, field=field)


def deployment_name_problem(name: Any) -> str | None:
    """Why `name` cannot name a new deployment (invalid, reserved, taken); None when it can."""
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        return NAME_INVALID.format(field="name", value=name)
    if name in RESERVED_DEPLOYMENT_NAMES:
        return NAME_RESERVED.format(field="name", value=name)
    if Deployment.objects.filter(name=name).exists():
        return NAME_TAKEN.format(name=name)
    return None


def check_pipeline(pipeline: Pipeline) -> None:
    if pipeline.status != PipelineStatus.READY:
        raise ValidationFailed(
            PIPELINE_NOT_READY.format(name=pipeline.name, status=pipeline.status),
            field="pipeline_name",
        )


@dataclass(frozen=True)
class Trigger:
    """What starts a deployment's executions: a schedule, or an endpoint path and token."""

    schedule: str | None = None
    next_run_at: datetime | None = None
    endpoint_url_path: str | None = None
    endpoint_token: str | None = None


def periodic_trigger(
    *, schedule: Any, endpoint_url_path: Any, endpoint_token: Any
) -> Trigger:
    if endpoint_url_path is not None or endpoint_token is not None:
        field = (
            "endpoint_url_path" if endpoint_url_path is not None else "endpoint_token"
        )
        raise ValidationFailed(ENDPOINT_ONLY, field=field)
    problem = schedule_error(schedule)
    if problem:
        raise ValidationFailed(problem, field="schedule")
    schedule = " ".join(schedule.split())
    return Trigger(
        schedule=schedule, next_run_at=schedule_next_run(schedule, after=timezone.now())
    )


def endpoint_trigger(
    *, name: str, schedule: Any, endpoint_url_path: Any, endpoint_token: Any
) -> Trigger:
    if schedule is not None:
        raise ValidationFailed(PERIODIC_ONLY, field="schedule")
    path = check_name(
        name if endpoint_url_path is None else endpoint_url_path, "endpoint_url_path"
    )
    if path in RESERVED_URL_PATHS:
        raise ValidationFailed(
            NAME_RESERVED.format(field="endpoint_url_path", value=path),
            field="endpoint_url_path",
        )
    if endpoint_token is None:
        return Trigger(endpoint_url_path=path, endpoint_token=token_generate())
    problem = token_format_error(endpoint_token)
    if problem:
        raise ValidationFailed(problem, field="endpoint_token")
    return Trigger(endpoint_url_path=path, endpoint_token=endpoint_token)


def check_free(*, name: str, endpoint_url_path: str | None) -> None:
    """409 when the name or the endpoint path is taken (the unique indexes decide races)."""
    if Deployment.objects.filter(name=name).exists():
        raise Conflict(NAME_TAKEN.format(name=name))
    if endpoint_url_path is not None:
        taken = Deployment.objects.filter(endpoint_url_path=endpoint_url_path).first()
        if taken is not None:
            raise Conflict(
                URL_PATH_TAKEN.format(path=endpoint_url_path, owner=taken.name)
            )
