"""The Deploy wizard: one page, one step at a time, every answer carried in the form.

Each POST names the step it submits (`step`) and what to do (`action`: next,
back, edit-<step>, create, ram). The answers of the other steps travel as
hidden fields, so the wizard works as plain form posts; with HTMX each step
replaces `#wizard` in place. Creating re-validates every step, then calls
`deployment_create`; a service error goes back to the step it belongs to.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from deployments.forms import (
    MODE_HELP,
    RULE_HELP,
    ExecutionForm,
    GeneralForm,
    TriggerForm,
)
from deployments.mapping_form import MappingForm
from deployments.models import DeploymentMode, ExecutionRule
from deployments.pods.resources import gpu_count
from deployments.schedules import schedule_describe
from deployments.selectors import machine_total_ram_mib, ram_requested_total_mib
from deployments.services.deployments import (
    deployment_create,
)
from deployments.views.deployment_display import mapping_rows
from executions.models import EnvironmentVariable
from pipelines.models import Pipeline, PipelineStatus
from platform_site.http.errors import ApiError, Conflict
from platform_site.http.request import HtmxHttpRequest
from platform_site.http.units import ram_mib

GENERAL, EXECUTION, TRIGGER, MAPPING, REVIEW = (
    "general",
    "execution",
    "trigger",
    "mapping",
    "review",
)
STEP_TITLES = {
    GENERAL: "General",
    EXECUTION: "Execution management",
    TRIGGER: "Trigger",
    MAPPING: "Inputs and outputs",
    REVIEW: "Review",
}
FORMS = {GENERAL: GeneralForm, EXECUTION: ExecutionForm, TRIGGER: TriggerForm}
# Fields the wizard posts for itself; never carried from step to step.
CONTROL_FIELDS = ("csrfmiddlewaretoken", "step", "action")
TEMPLATE = "deployments/wizard.html"


def _steps(state: dict[str, str]) -> list[str]:
    low_latency = state.get("mode") == DeploymentMode.LOW_LATENCY
    return [GENERAL, *([EXECUTION] if low_latency else []), TRIGGER, MAPPING, REVIEW]


def _make_form(
    step: str, pipeline: Pipeline, state: dict[str, str], *, bound: bool
) -> Any:
    """The step's form: bound to the answers to validate, else showing them as initial."""
    kwargs: dict[str, Any] = {}
    if step == MAPPING:
        rule = state.get("execution_rule") or ExecutionRule.ENDPOINT
        kwargs = {"pipeline": pipeline, "execution_rule": rule}
        form_class: Any = MappingForm
    else:
        form_class = FORMS[step]
    if bound:
        return form_class(data=state, **kwargs)
    form = form_class(**kwargs)
    form.initial = {k: v for k, v in state.items() if k in form.fields}
    return form


# The wizard step that shows each field deployment_create may refuse.
STEP_OF_FIELD = {
    "name": GENERAL,
    # Chosen on the general step; refused for what the execution step sets up.
    "mode": EXECUTION,
    "description": GENERAL,
    "endpoint_url_path": GENERAL,
    "endpoint_token": GENERAL,
    "execution_rule": TRIGGER,
    "schedule": TRIGGER,
    "inputs_mapping": MAPPING,
    "outputs_mapping": MAPPING,
    "enable_parallel_executions": EXECUTION,
    "max_parallel_executions_per_pod": EXECUTION,
    "ram_request": EXECUTION,
    "gpu_request": EXECUTION,
    "execution_timeout_s": GENERAL,
}
# Errors shown on the name field itself rather than above the form.
NAME_FIELDS = ("name", "endpoint_url_path")


def _step_of_error(exc: ApiError, steps: list[str]) -> str:
    """The step holding the field the service refused (the review step when it names none)."""
    step = STEP_OF_FIELD.get(getattr(exc, "field", None) or "", REVIEW)
    if step == EXECUTION and EXECUTION not in steps:
        return GENERAL  # elastic deployments have no execution step
    return step


def _ram_context(state: dict[str, str]) -> dict[str, Any]:
    """The machine's RAM and GPUs beside what this deployment and the others request."""
    total = machine_total_ram_mib()
    used = ram_requested_total_mib()
    request_mib = ram_mib(state.get("ram_value", "1"), state.get("ram_unit", "GiB"))
    return {
        "ram_total_mib": total,
        "ram_used_mib": used,
        "ram_request_mib": request_mib,
        "ram_sum_mib": used + (request_mib or 0),
        "ram_over": request_mib is not None and used + request_mib > total,
        "gpu_total": gpu_count(),
    }


def _render(
    request: HtmxHttpRequest,
    pipeline: Pipeline,
    state: dict[str, str],
    step: str,
    form: Any = None,
    *,
    error: str | None = None,
    status: int = 200,
) -> HttpResponse:
    steps = _steps(state)
    if step not in steps:
        step = GENERAL
    if form is None and step != REVIEW:
        form = _make_form(step, pipeline, state, bound=False)
    own = set(form.fields) if form is not None else set()
    context: dict[str, Any] = {
        "pipeline": pipeline,
        "step": step,
        "steps": [(s, STEP_TITLES[s]) for s in steps],
        "step_number": steps.index(step) + 1,
        "step_title": STEP_TITLES[step],
        "is_first": step == steps[0],
        "form": form,
        "error": error,
        "carry": [
            (k, v) for k, v in state.items() if k not in own and k not in CONTROL_FIELDS
        ],
        "mode_help": MODE_HELP,
        "rule_help": RULE_HELP,
        "state": state,
    }
    if step == EXECUTION or (step == REVIEW and EXECUTION in steps):
        context.update(_ram_context(state))
    if step == MAPPING:
        context["env_names"] = list(
            EnvironmentVariable.objects.values_list("name", flat=True)
        )
    if step == REVIEW:
        context["review"] = _review(pipeline, state)
    if request.htmx:
        # htmx 2 does not swap 4xx answers: errors come back as 200 fragments.
        return render(request, f"{TEMPLATE}#wizard", context)
    return render(request, TEMPLATE, context, status=status)


def _review(pipeline: Pipeline, state: dict[str, str]) -> dict[str, Any]:
    """Everything the review step shows, from the forms validated again."""
    trigger = TriggerForm(data=state)
    trigger.is_valid()
    mapping = MappingForm(
        data=state,
        pipeline=pipeline,
        execution_rule=state.get("execution_rule") or ExecutionRule.ENDPOINT,
    )
    mapping.is_valid()
    cron = trigger.cleaned_data.get("cron")
    rows = mapping_rows(
        getattr(mapping, "inputs_mapping", []), getattr(mapping, "outputs_mapping", [])
    )
    return {
        "cron": cron,
        "cron_description": schedule_describe(cron) if cron else None,
        "mappings": rows,
    }


def _validate_all(
    pipeline: Pipeline, state: dict[str, str]
) -> tuple[str | None, Any, dict[str, Any]]:
    """(first invalid step, its bound form, the forms by step)."""
    forms: dict[str, Any] = {}
    for step in _steps(state):
        if step == REVIEW:
            continue
        form = _make_form(step, pipeline, state, bound=True)
        if not form.is_valid():
            return step, form, forms
        forms[step] = form
    return None, None, forms


def _create(
    request: HtmxHttpRequest, pipeline: Pipeline, state: dict[str, str]
) -> HttpResponse:
    invalid, form, forms = _validate_all(pipeline, state)
    if invalid is not None:
        return _render(request, pipeline, state, invalid, form, status=422)
    general, trigger, mapping = forms[GENERAL], forms[TRIGGER], forms[MAPPING]
    execution = forms.get(EXECUTION)
    low_latency = execution is not None
    parallel = low_latency and execution.cleaned_data["management"] == "parallel"
    try:
        deployment = deployment_create(
            pipeline=pipeline,
            name=general.cleaned_data["name"],
            execution_rule=trigger.cleaned_data["execution_rule"],
            mode=general.cleaned_data["mode"],
            description=general.cleaned_data["description"] or None,
            inputs_mapping=mapping.inputs_mapping,
            outputs_mapping=mapping.outputs_mapping,
            schedule=trigger.cleaned_data["cron"],
            enable_parallel_executions=parallel if low_latency else None,
            max_parallel_executions_per_pod=(
                execution.cleaned_data["parallelism"] if parallel else None
            ),
            ram_request=execution.ram_request if low_latency else None,
            gpu_request=(execution.cleaned_data.get("gpu_request") or None)
            if low_latency
            else None,
            execution_timeout_s=general.cleaned_data.get("execution_timeout_s"),
            created_by=request.user,
        )
    except ApiError as exc:
        step = _step_of_error(exc, _steps(state))
        form = forms.get(step)
        # A 409 from create is always a taken name or endpoint path.
        if getattr(exc, "field", None) in NAME_FIELDS or isinstance(exc, Conflict):
            form = forms.get(GENERAL)
            form.add_error("name", exc.message)
            return _render(request, pipeline, state, GENERAL, form, status=422)
        return _render(
            request, pipeline, state, step, form, error=exc.message, status=422
        )
    messages.success(request, f"Deployment “{deployment.name}” created.")
    url = reverse("deployments:deployment_detail", args=[deployment.name])
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
def deploy_wizard(request: HtmxHttpRequest, name: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, name=name)
    if pipeline.status != PipelineStatus.READY:
        messages.error(request, f"Pipeline “{pipeline.name}” is not ready to deploy.")
        return redirect("pipelines:pipeline_detail", pipeline.name)
    if request.method == "GET":
        return _render(request, pipeline, {}, GENERAL)

    state = {k: v for k, v in request.POST.items() if k not in CONTROL_FIELDS}
    steps = _steps(state)
    step = request.POST.get("step", GENERAL)
    step = step if step in steps else GENERAL
    action = request.POST.get("action", "next")
    position = steps.index(step)

    if action == "ram":
        return render(
            request, "deployments/wizard_execution.html#ram", _ram_context(state)
        )
    if action == "back":
        return _render(request, pipeline, state, steps[max(position - 1, 0)])
    if action.startswith("edit-"):
        return _render(request, pipeline, state, action.removeprefix("edit-"))
    if action == "create" or step == REVIEW:
        return _create(request, pipeline, state)
    form = _make_form(step, pipeline, state, bound=True)
    if not form.is_valid():
        return _render(request, pipeline, state, step, form, status=422)
    # The mode chosen in step 1 may add or remove the execution step.
    steps = _steps(state)
    return _render(request, pipeline, state, steps[steps.index(step) + 1])
