"""The Run form: fields generated from the pipeline's declared inputs."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from executions import services
from executions.services.inputs import input_values_problems
from executions.views.forms import parse_run_form, run_fields
from pipelines.models import Pipeline
from platform_site.http.errors import ValidationFailed
from platform_site.http.request import HtmxHttpRequest


@login_required
@require_http_methods(["GET", "POST"])
def pipeline_run(request: HtmxHttpRequest, name: str) -> HttpResponse:
    pipeline = get_object_or_404(Pipeline, name=name)
    if request.method == "GET":
        return render(
            request,
            "executions/pipeline_run.html",
            {"pipeline": pipeline, "fields": run_fields(pipeline)},
        )
    values, files, errors = parse_run_form(pipeline, request.POST, request.FILES)
    # Every input's problem at once, not one per submit.
    problems = input_values_problems(pipeline=pipeline, given=values, files=files)
    errors = {**problems, **errors}
    form_error = None
    if not errors:
        try:
            execution = services.execution_create_for_run(
                pipeline=pipeline, given=values, files=files, created_by=request.user
            )
        except ValidationFailed as exc:
            name_in_error = (exc.data or {}).get("input")
            if name_in_error and pipeline.input(name_in_error):
                errors[name_in_error] = exc.message
            else:
                form_error = exc.message
        else:
            return redirect("executions:execution_detail", execution.execution_id)
    context = {
        "pipeline": pipeline,
        "fields": run_fields(pipeline, post=request.POST, errors=errors),
        "form_error": form_error,
    }
    return render(request, "executions/pipeline_run.html", context, status=400)
