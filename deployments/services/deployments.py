"""Deployments: create, update, delete, wait until ready (reads: deployments/selectors.py).

UI views, the REST API, the public endpoints and the scheduler all call these
functions, so the three faces can never disagree. What a deployment may be is
deployment_rules.py's; what its triggers start is deployment_triggers.py's.
"""

from __future__ import annotations

from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments.endpoints.tokens import (
    token_encrypt,
)
from deployments.mappings import mappings_resolve, mappings_update
from deployments.models import (
    Deployment,
    DeploymentMode,
    DeploymentStatus,
    ExecutionRule,
)
from deployments.schedules import schedule_error, schedule_next_run
from deployments.selectors import deployment_get_or_404
from deployments.services.deployment_rules import (
    NAME_OR_URL_PATH_TAKEN,
    PERIODIC_ONLY,
    check_free,
    check_identity,
    check_pipeline,
    check_settings,
    endpoint_trigger,
    periodic_trigger,
)
from executions.files import execution_files_delete
from pipelines.models import Pipeline
from platform_site.http import notify
from platform_site.http.errors import Conflict, ValidationFailed

# Statuses during which get_deployment(wait_for_completion=True) is held.
TRANSITIONAL_STATUSES = (
    DeploymentStatus.CREATION_PENDING,
    DeploymentStatus.DOWN_RETRYING,
)


def deployment_channel(deployment: Deployment) -> str:
    return notify.channel_for("deployment", deployment.pk)


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
    check_identity(name=name, execution_rule=execution_rule, description=description)
    check_settings(
        mode=mode,
        enable_parallel_executions=enable_parallel_executions,
        max_parallel_executions_per_pod=max_parallel_executions_per_pod,
        ram_request=ram_request,
        gpu_request=gpu_request,
        execution_timeout_s=execution_timeout_s,
    )
    check_pipeline(pipeline)
    make_trigger = (
        periodic_trigger
        if execution_rule == ExecutionRule.PERIODIC
        else partial(endpoint_trigger, name=name)
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
    check_free(name=name, endpoint_url_path=trigger.endpoint_url_path)
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
        # Two requests raced past check_free: the unique indexes decide.
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
