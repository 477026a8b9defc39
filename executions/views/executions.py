"""Executions pages: the filtered list, one execution with live logs, deletion."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from executions import selectors, services
from executions.files import execution_file_name, execution_file_open
from executions.metrics.display import execution_metrics_context
from executions.models import Execution, IoDirection
from executions.replays.views import replay_context
from executions.views.forms import ExecutionFilterForm
from executions.views.pages import LOG_PAGE_LINES, display_lines, timeline_segments
from platform_site.http.errors import NotFound
from platform_site.http.request import HtmxHttpRequest

PAGE_SIZE = 50


def _get_execution_or_404(execution_id: str) -> Execution:
    try:
        return selectors.execution_get(execution_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _after(request: HtmxHttpRequest) -> int:
    try:
        return max(0, int(request.GET.get("after", "0")))
    except ValueError:
        return 0


def _log_context(execution: Execution, after: int) -> dict:
    lines = services.log_lines_after(
        execution=execution, after_seq=after, limit=LOG_PAGE_LINES
    )
    last_seq = lines[-1].seq if lines else after
    return {
        "lines": display_lines(lines),
        "last_seq": last_seq,
        "more": len(lines) == LOG_PAGE_LINES,
        "live": not execution.is_final,
        "after": after,
    }


@login_required
@require_GET
def execution_list(request: HtmxHttpRequest) -> HttpResponse:
    """Newest first, filtered, paged by a cursor; the first page refreshes itself live.

    The first page's results poll this same view every 2 s (static/js/platform.js
    skips a poll while the tab is hidden), so runs started elsewhere appear and
    running ones end in place. Older pages stand still.
    """
    pipelines, deployments = selectors.execution_filter_names()
    form = ExecutionFilterForm(
        request.GET or None, pipelines=pipelines, deployments=deployments
    )
    before = request.GET.get("before", "")
    filters = form.filters() if form.is_bound else selectors.ExecutionFilters()
    rows = list(selectors.execution_list(filters, before=before)[: PAGE_SIZE + 1])
    query = request.GET.copy()
    query.pop("before", None)
    context = {
        "form": form,
        "executions": rows[:PAGE_SIZE],
        "next_before": rows[PAGE_SIZE - 1].execution_id
        if len(rows) > PAGE_SIZE
        else "",
        "before": before,
        "query": query.urlencode(),
        "live": not before,
        "retention_days": settings.RETENTION_DAYS,
    }
    template = "executions/execution_list.html"
    if request.htmx and not request.htmx.boosted:
        template += "#results"
    return render(request, template, context)


@login_required
@require_GET
def execution_detail(request: HtmxHttpRequest, execution_id: str) -> HttpResponse:
    execution = _get_execution_or_404(execution_id)
    if request.htmx and request.GET.get("fragment") == "status":
        response = render(
            request,
            "executions/execution_detail.html#summary",
            {"execution": execution},
        )
        if execution.is_final:
            # Outputs, timings and the timeline are complete only now: show them all once.
            response["HX-Refresh"] = "true"
        return response
    rows = list(execution.io.all())
    context = {
        "execution": execution,
        "inputs": [r for r in rows if r.direction == IoDirection.INPUT],
        "outputs": [r for r in rows if r.direction == IoDirection.OUTPUT],
        "segments": timeline_segments(execution),
        **execution_metrics_context(execution),
        **replay_context(execution),
        **_log_context(execution, _after(request)),
        **_search_context(execution, request.GET.get("q", "")),
    }
    return render(request, "executions/execution_detail.html", context)


@login_required
@require_GET
def execution_logs(request: HtmxHttpRequest, execution_id: str) -> HttpResponse:
    """Lines after the `after` cursor, then a new tail that polls (or stops once final).

    With `q`, the lines containing it instead (the search box's results).
    """
    execution = _get_execution_or_404(execution_id)
    if "q" in request.GET:
        if not request.htmx:
            return redirect(
                f"{execution_url(execution)}?{request.GET.urlencode()}#logs"
            )
        return render(
            request,
            "executions/execution_detail.html#log_matches",
            _search_context(execution, request.GET["q"]),
        )
    if not request.htmx:
        return redirect(f"{execution_url(execution)}?after={_after(request)}#logs")
    context = {"execution": execution, **_log_context(execution, _after(request))}
    response = render(request, "executions/execution_detail.html#log_chunk", context)
    if execution.is_final and not context["more"]:
        return HttpResponseStopPolling(response.content)
    return response


def _search_context(execution: Execution, text: str) -> dict:
    return {
        "execution": execution,
        "q": text,
        "matches": display_lines(selectors.log_lines_matching(execution, text)),
        "match_limit": selectors.LOG_SEARCH_LIMIT,
    }


@login_required
@require_GET
def execution_logs_text(request: HtmxHttpRequest, execution_id: str) -> HttpResponse:
    """The whole log as a text file: one `<UTC time> <stream> <message>` per line."""
    execution = _get_execution_or_404(execution_id)
    lines = (
        f"{line.timestamp:%Y-%m-%dT%H:%M:%S.%fZ} {line.stream} {line.message}\n"
        for line in selectors.log_lines_all(execution)
    )
    response = StreamingHttpResponse(lines, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="{execution.execution_id}.log.txt"'
    )
    return response


def execution_url(execution: Execution) -> str:
    return reverse("executions:execution_detail", args=[execution.execution_id])


@login_required
@require_GET
def execution_file(
    request: HtmxHttpRequest, execution_id: str, direction: str, name: str
) -> HttpResponse:
    """Download a file input or output."""
    execution = _get_execution_or_404(execution_id)
    if direction not in IoDirection.values:
        raise Http404("No such direction.")
    try:
        row = selectors.execution_io_get(execution, direction=direction, name=name)
    except NotFound as exc:
        raise Http404(exc.message) from None
    if row.data_type != "file" or not row.file_path:
        raise Http404("This value is not a stored file.")
    try:
        handle = execution_file_open(row.file_path)
    except FileNotFoundError:
        raise Http404("The file is gone.") from None
    return FileResponse(
        handle, as_attachment=True, filename=execution_file_name(row.file_path)
    )


@login_required
@require_POST
def execution_delete(request: HtmxHttpRequest, execution_id: str) -> HttpResponse:
    execution = _get_execution_or_404(execution_id)
    services.execution_delete(execution=execution)
    messages.info(request, f"Execution {execution_id} deleted.")
    return redirect("executions:execution_list")
