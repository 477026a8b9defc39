"""Pipeline pages: list, detail (live creation log), create form, delete, code download."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseStopPolling

from pipelines import pages
from pipelines.archives import ZIP_MAGIC
from pipelines.build_reason import build_failure_reason
from pipelines.models import DATA_TYPES, Pipeline, PipelineStatus
from pipelines.selectors import pipeline_logs_after
from pipelines.services.files import (
    pipeline_download_check,
    pipeline_download_path,
)
from pipelines.services.local import pipeline_archive_content
from pipelines.services.pipelines import (
    pipeline_create,
    pipeline_delete,
)
from pipelines.views.forms import (
    KINDS,
    PipelineForm,
    Row,
    apply_row_buttons,
    code_archive,
    declared_inputs,
    declared_outputs,
    form_from_post,
    is_single_file,
    new_row_id,
    upload_forget,
    upload_keep,
    upload_kept,
)
from platform_site.http.errors import ApiError
from platform_site.http.request import HtmxHttpRequest

DETAIL = "pipelines/pipeline_detail.html"
CREATE = "pipelines/pipeline_create.html"
# Service error fields -> the form field the message is shown next to.
FIELD_FOR = {
    "pipeline_name": "pipeline_name",
    "function_path": "function_path",
    "function_name": "function_name",
    "description": "description",
    "container_config": "requirements_path",
    "step_file": "code",
    "inputs": "inputs",
    "outputs": "outputs",
}


def _get_pipeline(name: str) -> Pipeline:
    """Pipelines are shared by every user of the platform; unknown names 404."""
    pipeline = Pipeline.objects.filter(name=name).first()
    if pipeline is None:
        raise Http404(f"Pipeline '{name}' not found.")
    return pipeline


LATEST = "executions/_latest_executions.html"


@login_required
@require_GET
def pipeline_list(request: HtmxHttpRequest) -> HttpResponse:
    """By name, with each one's last run; `q` keeps names containing it.

    The search box asks this same view for its #pipelines fragment.
    """
    query = request.GET.get("q", "").strip()
    pipelines = pages.list_annotate(
        Pipeline.objects.filter(name__icontains=query).order_by("name")
    )
    template = "pipelines/pipeline_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#pipelines"
    return render(request, template, {"pipelines": pipelines, "q": query})


def _detail_context(
    pipeline: Pipeline, request: HttpRequest | None = None, **extra
) -> dict:
    """The pipeline's own parts, and what later apps add (pipelines/pages.py)."""
    lines = list(pipeline.logs.order_by("id"))
    failed = pipeline.status == PipelineStatus.CREATION_FAILED
    return {
        "pipeline": pipeline,
        **pages.detail_context(pipeline, request),
        "failure_reason": build_failure_reason([line.message for line in lines])
        if failed
        else None,
        "lines": lines,
        "cursor": lines[-1].id if lines else 0,
        "pending": pipeline.status == PipelineStatus.CREATION_PENDING,
        **extra,
    }


@login_required
@require_GET
def pipeline_detail(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The pipeline; with ?fragment=executions, only its live latest executions."""
    pipeline = _get_pipeline(name)
    if request.htmx and request.GET.get("fragment") == "executions":
        context = pages.detail_context(pipeline, request, only="executions")
        return render(request, LATEST, {"pipeline": pipeline, **context})
    return render(request, DETAIL, _detail_context(pipeline, request))


@login_required
@require_GET
def pipeline_logs(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """New creation-log lines after the `after` cursor; stops polling once final."""
    pipeline = _get_pipeline(name)
    if not request.htmx:
        return redirect("pipelines:pipeline_detail", name=pipeline.name)
    if pipeline.status != PipelineStatus.CREATION_PENDING:
        # Final: reload once so the status, the full log and the Run form show.
        response = HttpResponseStopPolling()
        response["HX-Refresh"] = "true"
        return response
    try:
        after = max(int(request.GET.get("after", "0")), 0)
    except ValueError:
        after = 0
    lines = list(pipeline_logs_after(pipeline=pipeline, after_id=after))
    context = {
        "pipeline": pipeline,
        "lines": lines,
        "cursor": lines[-1].id if lines else after,
        "pending": True,
    }
    return render(request, f"{DETAIL}#log-update", context)


@login_required
@require_POST
def pipeline_delete_view(request: HtmxHttpRequest, name: str) -> HttpResponse:
    pipeline = _get_pipeline(name)
    force = request.POST.get("force") in ("on", "true", "True", "1")
    try:
        result = pipeline_delete(pipeline=pipeline, force=force)
    except ApiError as exc:
        context = _detail_context(
            pipeline, request, delete_error=exc.message, offer_force=exc.status == 409
        )
        return render(request, DETAIL, context, status=exc.status)
    deleted = [d["name"] for d in result["deployments"]]
    suffix = f" with its deployments {', '.join(deleted)}" if deleted else ""
    messages.success(request, f"Pipeline {pipeline.name} deleted{suffix}.")
    return redirect("pipelines:pipeline_list")


@login_required
@require_GET
def pipeline_code(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The browser's download link: a fresh signed URL of the uploaded archive."""
    pipeline = _get_pipeline(name)
    return redirect(pipeline_download_path(pipeline=pipeline))


def _xml_error(code: str, message: str, status: int) -> HttpResponse:
    # The official client reads signed-URL errors as XML (docs/sdk-protocol.md §7.6).
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
    )
    return HttpResponse(body, status=status, content_type="application/xml")


@require_GET
def pipeline_download(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """The signed archive URL: no login, the signature is the authorisation."""
    pipeline = Pipeline.objects.filter(name=name).first()
    if pipeline is None:
        return _xml_error("NoSuchKey", f"Pipeline '{name}' not found", 404)
    problem = pipeline_download_check(
        pipeline=pipeline,
        expires=request.GET.get("expires", ""),
        signature=request.GET.get("signature", ""),
    )
    if problem is not None:
        return _xml_error("AccessDenied", problem, 403)
    # From the database: any web machine answers, whichever received the upload.
    content = pipeline_archive_content(pipeline)
    if content is None:
        return _xml_error("NoSuchKey", f"Pipeline '{name}' has no uploaded code", 404)
    return FileResponse(
        io.BytesIO(content),
        content_type="application/octet-stream",
        as_attachment=True,
        # The UI also accepts zip uploads; their bytes are kept as they came.
        filename=f"{pipeline.name}.{'zip' if content[:4] in ZIP_MAGIC else 'tgz'}",
    )


# -- create --------------------------------------------------------------


def _create_context(form: PipelineForm) -> dict:
    return {
        "form": form,
        "data_types": DATA_TYPES,
        "max_upload": settings.MAX_UPLOAD_BYTES,
    }


def _form_errors(form: PipelineForm, upload) -> bool:
    """Checks the service cannot make (the upload itself); True when some were found."""
    if upload is None:
        form.errors["code"] = "Choose a .py file or an archive of your code."
    elif upload.size > settings.MAX_UPLOAD_BYTES:
        form.errors["code"] = (
            f"The file is larger than {settings.MAX_UPLOAD_BYTES} bytes."
        )
    elif not is_single_file(upload) and not form.values["function_path"]:
        form.errors["function_path"] = (
            "Give the path of the function's file inside the archive."
        )
    if not form.values["pipeline_name"]:
        form.errors["pipeline_name"] = "This field is required."
    if not form.values["function_name"]:
        form.errors["function_name"] = "This field is required."
    return bool(form.errors)


def _create_refused(
    request: HtmxHttpRequest, form: PipelineForm, upload, *, status: int
) -> HttpResponse:
    """The form again with its errors, the upload kept so nobody chooses it twice."""
    usable = upload is not None and upload.size <= settings.MAX_UPLOAD_BYTES
    if usable and not form.kept_token and "code" not in form.errors:
        form.kept_token, form.kept_name = upload_keep(upload, user_id=request.user.pk)
    return render(request, CREATE, _create_context(form), status=status)


@login_required
@require_http_methods(["GET", "POST"])
def pipeline_create_view(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "GET":
        form = PipelineForm(values={"pipeline_name": "", "function_name": ""})
        return render(request, CREATE, _create_context(form))
    form = form_from_post(request.POST)
    kept = request.POST.get("code_kept", "")
    upload = request.FILES.get("code") or upload_kept(kept, user_id=request.user.pk)
    if upload is not None and request.FILES.get("code") is None:
        form.kept_token, form.kept_name = kept, upload.name or ""
    if apply_row_buttons(form, request.POST):
        return _create_refused(request, form, upload, status=200)
    if _form_errors(form, upload):
        return _create_refused(request, form, upload, status=400)
    try:
        inputs = declared_inputs(form)
        archive, function_path = code_archive(upload, form.values["function_path"])
    except ValueError as exc:
        form.errors["code" if "Upload" in str(exc) else "inputs"] = str(exc)
        return _create_refused(request, form, upload, status=400)
    requirements = form.values["requirements_path"] or None
    try:
        pipeline = pipeline_create(
            name=form.values["pipeline_name"],
            function_path=function_path,
            function_name=form.values["function_name"],
            description=form.values["description"] or None,
            inputs=inputs,
            outputs=declared_outputs(form),
            container_config={"requirements_path": requirements}
            if requirements
            else {},
            archive=archive,
            created_by=request.user,
        )
    except ApiError as exc:
        field = (
            str((exc.data or {}).get("field", "")) if isinstance(exc.data, dict) else ""
        )
        key = FIELD_FOR.get(field.split(".")[0].split("[")[0], "general")
        message = exc.message
        simple = key not in ("general", "inputs", "outputs")
        if simple and message.split(": ")[0] == field:
            message = message.split(": ", 1)[1]
        form.errors[key] = message
        return _create_refused(request, form, upload, status=exc.status)
    upload_forget(form.kept_token, user_id=request.user.pk)
    messages.success(request, f"Pipeline {pipeline.name} created; it is being built.")
    return redirect("pipelines:pipeline_detail", name=pipeline.name)


@login_required
@require_GET
def pipeline_io_row(request: HtmxHttpRequest) -> HttpResponse:
    """One empty input or output row for the create form (the "Add" buttons)."""
    if request.GET.get("remove"):
        return HttpResponse("")  # the "Remove" button: htmx deletes the row itself
    kind = request.GET.get("kind") or request.GET.get("add")
    if kind not in KINDS:
        raise Http404("Unknown row kind.")
    if not request.htmx:
        return redirect("pipelines:pipeline_create")
    context = {"kind": kind, "row": Row(row_id=new_row_id()), "data_types": DATA_TYPES}
    return render(request, f"{CREATE}#io-row", context)
