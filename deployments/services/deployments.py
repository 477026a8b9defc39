"""Deployments: create, update, delete, rotate tokens (reads: deployments/selectors.py).

UI views, the REST API, the public endpoints and the scheduler all call these
functions, so the three faces can never disagree. Triggers live in
`deployment_triggers.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments.endpoints.tokens import (
    token_encrypt,
    token_format_error,
    token_generate,
)
from deployments.mappings import mappings_resolve, mappings_update
from deployments.models import (
    Deployment,
    DeploymentMode,
    DeploymentStatus,
    ExecutionRule,
)
from deployments.pods.resources import gpu_count
from deployments.schedules import schedule_error, schedule_next_run
from deployments.selectors import deployment_get_or_404, machine_total_ram_mib
from executions.files import execution_files_delete
from pipelines.models import NAME_PATTERN, NAME_RULE, Pipeline, PipelineStatus
from platform_site.http import notify
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
# Statuses during which get_deployment(wait_for_completion=True) is held.
TRANSITIONAL_STATUSES = (
    DeploymentStatus.CREATION_PENDING,
    DeploymentStatus.DOWN_RETRYING,
)


def deployment_channel(deployment: Deployment) -> str:
    return notify.channel_for("deployment", deployment.pk)


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


def _check_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not re.match(NAME_PATTERN, value):
        raise ValidationFailed(
            NAME_INVALID.format(field=field, value=value), field=field
        )
    return value


def _check_identity(*, name: Any, execution_rule: Any, description: Any) -> None:
    _check_name(name, "name")
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


def _check_settings(**settings: Any) -> None:
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


def _check_pipeline(pipeline: Pipeline) -> None:
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


def _periodic_trigger(
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


def _endpoint_trigger(
    *, name: str, schedule: Any, endpoint_url_path: Any, endpoint_token: Any
) -> Trigger:
    if schedule is not None:
        raise ValidationFailed(PERIODIC_ONLY, field="schedule")
    path = _check_name(
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


def _check_free(*, name: str, endpoint_url_path: str | None) -> None:
    """409 when the name or the endpoint path is taken (the unique indexes decide races)."""
    if Deployment.objects.filter(name=name).exists():
        raise Conflict(NAME_TAKEN.format(name=name))
    if endpoint_url_path is not None:
        taken = Deployment.objects.filter(endpoint_url_path=endpoint_url_path).first()
        if taken is not None:
            raise Conflict(
                URL_PATH_TAKEN.format(path=endpoint_url_path, owner=taken.name)
            )


# -- create / update / delete ------------------------------------------------------


def deployment_create(
    *,
    pipeline: Pipeline,
    name: str,
    execution_rule: str,
    mode: str = "elastic",
    description: str | None = None,
    inputs_mapping: list[dict] | None = None,
    outputs_mapping: list[dict] | None = None,
    schedule: str | None = None,
    endpoint_url_path: str | None = None,
    endpoint_token: str | None = None,
    enable_parallel_executions: bool | None = None,
    max_parallel_executions_per_pod: int | None = None,
    ram_request: str | None = None,
    gpu_request: int | None = None,
    execution_timeout_s: int | None = None,
    created_by,
) -> Deployment:
    """Validate everything, then write the deployment (elastic ones are `up` at once)."""
    _check_identity(name=name, execution_rule=execution_rule, description=description)
    _check_settings(
        mode=mode,
        enable_parallel_executions=enable_parallel_executions,
        max_parallel_executions_per_pod=max_parallel_executions_per_pod,
        ram_request=ram_request,
        gpu_request=gpu_request,
        execution_timeout_s=execution_timeout_s,
    )
    _check_pipeline(pipeline)
    make_trigger = (
        _periodic_trigger
        if execution_rule == ExecutionRule.PERIODIC
        else partial(_endpoint_trigger, name=name)
    )
    trigger = make_trigger(
        schedule=schedule,
        endpoint_url_path=endpoint_url_path,
        endpoint_token=endpoint_token,
    )
    resolved_inputs, resolved_outputs = mappings_resolve(
        pipeline=pipeline,
        execution_rule=execution_rule,
        inputs_mapping=inputs_mapping,
        outputs_mapping=outputs_mapping,
    )
    _check_free(name=name, endpoint_url_path=trigger.endpoint_url_path)
    try:
        with transaction.atomic():
            return Deployment.objects.create(
                name=name,
                pipeline=pipeline,
                execution_rule=execution_rule,
                mode=mode,
                description=description,
                status=(
                    DeploymentStatus.CREATION_PENDING
                    if mode == DeploymentMode.LOW_LATENCY
                    else DeploymentStatus.UP
                ),
                is_enabled=True,
                endpoint_url_path=trigger.endpoint_url_path,
                endpoint_token_encrypted=(
                    token_encrypt(trigger.endpoint_token)
                    if trigger.endpoint_token
                    else None
                ),
                schedule=trigger.schedule,
                next_run_at=trigger.next_run_at,
                enable_parallel_executions=bool(enable_parallel_executions),
                max_parallel_executions_per_pod=max_parallel_executions_per_pod or 6,
                ram_request=ram_request,
                gpu_request=gpu_request,
                execution_timeout_s=execution_timeout_s,
                inputs_mapping=resolved_inputs,
                outputs_mapping=resolved_outputs,
                created_by=created_by,
                updated_by=created_by,
            )
    except IntegrityError:
        # Two requests raced past _check_free: the unique indexes decide.
        raise Conflict(NAME_OR_URL_PATH_TAKEN.format(name=name)) from None


def deployment_update(
    *,
    deployment: Deployment,
    updated_by,
    is_enabled: bool | None = None,
    schedule: str | None = None,
    inputs_mapping: list[dict] | None = None,
    outputs_mapping: list[dict] | None = None,
) -> Deployment:
    """§4.5: enable/disable, reschedule, or change constant/data store values."""
    fields = ["updated_at", "updated_by"]
    pipeline = deployment.pipeline
    now = timezone.now()
    if is_enabled is not None:
        if not isinstance(is_enabled, bool):
            raise ValidationFailed(
                "is_enabled must be true or false.", field="is_enabled"
            )
        if is_enabled != deployment.is_enabled:
            deployment.status = (
                DeploymentStatus.DISABLED
                if not is_enabled
                else DeploymentStatus.CREATION_PENDING
                if deployment.mode == DeploymentMode.LOW_LATENCY
                else DeploymentStatus.UP
            )
        deployment.is_enabled = is_enabled
        fields += ["is_enabled", "status"]
        if is_enabled and deployment.schedule:
            # Re-enabling never replays the ticks missed while disabled.
            deployment.next_run_at = schedule_next_run(deployment.schedule, after=now)
            fields.append("next_run_at")
    if schedule is not None:
        if deployment.execution_rule != ExecutionRule.PERIODIC:
            raise ValidationFailed(PERIODIC_ONLY, field="schedule")
        problem = schedule_error(schedule)
        if problem:
            raise ValidationFailed(problem, field="schedule")
        deployment.schedule = " ".join(schedule.split())
        deployment.next_run_at = schedule_next_run(deployment.schedule, after=now)
        fields += ["schedule", "next_run_at"]
    if inputs_mapping is not None:
        deployment.inputs_mapping = mappings_update(
            current=deployment.inputs_mapping,
            changes=inputs_mapping,
            direction="input",
            specs=pipeline.inputs,
            where="inputs_mapping",
        )
        fields.append("inputs_mapping")
    if outputs_mapping is not None:
        deployment.outputs_mapping = mappings_update(
            current=deployment.outputs_mapping,
            changes=outputs_mapping,
            direction="output",
            specs=pipeline.outputs,
            where="outputs_mapping",
        )
        fields.append("outputs_mapping")
    deployment.updated_by = updated_by
    with transaction.atomic():
        deployment.save(update_fields=list(dict.fromkeys(fields)))
        channel = deployment_channel(deployment)
        transaction.on_commit(lambda: notify.publish(channel))
    return deployment


def deployment_delete(*, deployment: Deployment) -> dict:
    """Delete the deployment and (cascade) its executions, then their files."""
    result = {"name": deployment.name, "execution_rule": deployment.execution_rule}
    pks = list(deployment.executions.values_list("pk", flat=True))
    with transaction.atomic():
        Deployment.objects.filter(pk=deployment.pk).delete()
        transaction.on_commit(lambda: execution_files_delete(pks))
    return result


# -- readiness and API objects ----------------------------------------------------


def deployment_wait_ready(*, deployment: Deployment, timeout_s: float) -> Deployment:
    """Hold while the deployment is transitional (low-latency pods starting)."""
    if deployment.status not in TRANSITIONAL_STATUSES:
        return deployment
    pk = deployment.pk
    notify.wait_until(
        deployment_channel(deployment),
        lambda: (
            not Deployment.objects.filter(
                pk=pk, status__in=TRANSITIONAL_STATUSES
            ).exists()
        ),
        timeout_s=timeout_s,
    )
    return deployment_get_or_404(deployment.name)
