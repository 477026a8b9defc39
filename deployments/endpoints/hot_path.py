"""The endpoint call, the product's hot path: POST /endpoints/<path> and its results route.

Async views, served by an ASGI handler of their own with only the
middleware they need (platform_site/asgi.py), in one event loop:

- the endpoint and its tokens come from the process's cache (endpoint_cache.py),
  so finding and opening an endpoint reads no row;
- the execution and its inputs are written in one statement on PostgreSQL
  (one transaction on SQLite, executions/services/run_ledger.py), on a
  database thread that keeps its connection (platform_site/clients/db_threads.py),
  and committed before anything runs it; calls that come while another
  write is in flight are written together next, in one transaction
  (platform_site/clients/write_batches.py);
- the result comes with the commit of its final status, announced over
  Redis (executions.services.lifecycle.final_message): the view answers from
  it without reading the row. The row is read only when the announcement
  carried no result (too large) or was missed (a look every RECHECK_S).

Every caller goes this way: the official client's trigger_endpoint, curl,
the endpoint's Swagger page, and the results route a held call redirects to.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from deployments.endpoints.calls import (
    call_body,
    call_size_check,
    endpoint_open,
    endpoint_token_of,
    errors_as_json,
)
from deployments.endpoints.endpoint_cache import (
    CachedEndpoint,
    endpoint_cache,
    endpoint_use_record,
)
from deployments.endpoints.rate_limit import endpoint_rate_limit_check
from deployments.models import Deployment
from deployments.services.deployment_triggers import (
    deployment_enabled_check,
    deployment_trigger_build,
    endpoint_outputs,
    execution_failure,
)
from executions.models import FINAL_STATUSES, Execution, ExecutionStatus
from executions.services.creation import FEW, executions_build_and_save
from executions.services.lifecycle import execution_channel, execution_pk_channel
from platform_site.clients.db_retry import DATABASE_BLIPS
from platform_site.clients.db_threads import in_db_thread
from platform_site.clients.write_batches import WriteBatches
from platform_site.http import notify
from platform_site.http.draining import is_draining
from platform_site.http.errors import NotFound
from platform_site.http.request import public_url

# A held call looks at its row this often, in case its announcement was lost.
RECHECK_S = 1.0
# The SDK follows at most 30 redirects of the results route: hold longer there.
RESULTS_HOLD_S = 30

# Calls that come while a write is in flight are written together next.
_calls_written = WriteBatches(executions_build_and_save, most=FEW)

# Writes of a token's last use run beside the call; kept here until done.
_background: set[asyncio.Future[None]] = set()


@dataclass(frozen=True)
class Final:
    """A final execution as its caller sees it: status, reason, outputs by endpoint output name."""

    status: str
    reason: str | None
    outputs: dict[str, Any]


async def _endpoint(path: str, token: str | None) -> tuple[CachedEndpoint, str]:
    """(the endpoint at `path`, the name of the token that opens it); 401 otherwise."""
    entry = None
    if token is not None:
        entry = endpoint_cache.kept(path) or await in_db_thread(
            endpoint_cache.load, path
        )
    name, key = endpoint_open(token, entry)
    assert entry is not None  # endpoint_open refused otherwise
    if entry.use_to_record(key, now=timezone.now()):
        record = in_db_thread(endpoint_use_record, entry, key)
        if not settings.DB_THREADS:
            # No database thread outlives the request's loop (in-process
            # tests): a write beside the call could be cancelled with it.
            await record
        else:
            future = asyncio.ensure_future(record)
            _background.add(future)
            future.add_done_callback(_background.discard)
    return entry, name


@csrf_exempt
@require_POST
@errors_as_json
async def endpoint_trigger(request: HttpRequest, path: str) -> HttpResponse:
    """Start an execution; 200 with its outputs if it ends within the hold, else 303."""
    entry, token_name = await _endpoint(path, endpoint_token_of(request))
    deployment = entry.deployment
    if deployment.calls_per_minute:
        await in_db_thread(endpoint_rate_limit_check, deployment)  # Redis, off the loop
    deployment_enabled_check(deployment)
    call_size_check(request)
    values, files = call_body(request)
    # Watched before its row exists: the announcement of its end cannot be missed.
    execution_pk = uuid.uuid4()
    channel = execution_pk_channel(execution_pk)
    watch = notify.AsyncWatch(asyncio.get_running_loop())
    notify.listener().add(channel, watch)
    try:
        execution = await _calls_written(
            functools.partial(
                deployment_trigger_build,
                deployment=deployment,
                values=values,
                files=files,
                created_by=deployment.created_by,
                token_name=token_name,
                execution_pk=execution_pk,
            )
        )
        file_url = _file_url(path, execution)
        final = await _hold(
            execution,
            watch,
            timeout_s=settings.ENDPOINT_HOLD_S,
            from_message=lambda message: _final_of_message(message, entry, file_url),
            from_row=lambda: _final_of_row(execution.pk, wrap=False, file_url=file_url),
        )
    finally:
        notify.listener().forget(channel, watch)
    if final is None:
        return _see_result(path, execution)
    return _answer(execution, final)


# POST too: `curl -L -X POST` re-sends a POST after the trigger's 303.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@errors_as_json
async def endpoint_result(
    request: HttpRequest, path: str, execution_id: str
) -> HttpResponse:
    """§5.4: hold, then 307 to the same URL (query kept) while running; outputs when done.

    A POST's body is ignored: the execution already has its inputs.
    """
    token = request.GET.get("token") or endpoint_token_of(request)
    entry, _ = await _endpoint(path, token)
    watch = notify.AsyncWatch(asyncio.get_running_loop())
    execution = await in_db_thread(
        _watched_execution, entry.deployment, execution_id, watch
    )
    file_url = _file_url(path, execution)
    try:
        final = await _hold(
            execution,
            watch,
            timeout_s=RESULTS_HOLD_S,
            from_message=lambda message: None,  # an old call's mapping is its rows'
            from_row=lambda: _final_of_row(execution.pk, wrap=True, file_url=file_url),
            look_first=True,
        )
    finally:
        notify.listener().forget(execution_channel(execution), watch)
    if final is None:
        response = JsonResponse({"execution_id": execution.execution_id}, status=307)
        response["Location"] = request.get_full_path()
        return response
    return _answer(execution, final)


def _watched_execution(
    deployment: Deployment, execution_id: str, watch: notify.AsyncWatch
) -> Execution:
    execution = (
        Execution.objects.filter(deployment=deployment, execution_id=execution_id)
        .only("pk", "execution_id")
        .first()
    )
    if execution is None:
        raise NotFound(f"Execution '{execution_id}' not found for this endpoint.")
    notify.listener().add(execution_channel(execution), watch)
    return execution


# -- holding for the result --------------------------------------------------


async def _hold(
    execution: Execution,
    watch: notify.AsyncWatch,
    *,
    timeout_s: float,
    from_message: Callable[[str], Final | None],
    from_row: Callable[[], Final | None],
    look_first: bool = False,
) -> Final | None:
    """The execution's end, or None when `timeout_s` passes (or this process stops) first.

    `watch` was registered before the execution could change: its
    announcement cannot be missed, so the row is read only when one came
    without a result, or every RECHECK_S in case Redis lost it.
    """
    deadline = time.monotonic() + timeout_s
    look = look_first
    while True:
        if watch.data is not None:
            final = from_message(watch.data)
            if final is not None:
                return final
        if look:
            try:
                final = await in_db_thread(from_row)
            except DATABASE_BLIPS:
                final = None  # the database may be back by the next look
            if final is not None:
                return final
        remaining = deadline - time.monotonic()
        if remaining <= 0 or is_draining():
            return None
        await watch.wait(min(RECHECK_S, remaining))
        look = True  # unless the announcement answers, at the loop's top


def _final_of_message(
    message: str, entry: CachedEndpoint, file_url: Callable[[str], str]
) -> Final | None:
    """The answer carried by a final status's announcement (None: read the row)."""
    try:
        final = json.loads(message)
    except ValueError:
        return None
    if not isinstance(final, dict) or final.get("status") not in FINAL_STATUSES:
        return None
    if final["status"] != ExecutionStatus.SUCCEEDED:
        return Final(final["status"], final.get("reason"), {})
    produced = final.get("outputs") or {}
    outputs: dict[str, Any] = {}
    for output in entry.outputs:
        got = produced.get(output.pipeline_name) or {}
        if output.is_file:
            url = file_url(output.endpoint_name) if got.get("file") else None
            outputs[output.endpoint_name] = {"url": url}
        else:
            outputs[output.endpoint_name] = got.get("value")
    return Final(final["status"], final.get("reason"), outputs)


def _final_of_row(
    pk: uuid.UUID, *, wrap: bool, file_url: Callable[[str], str]
) -> Final | None:
    execution = Execution.objects.filter(pk=pk).first()
    if execution is None:
        raise NotFound("This execution was deleted.")
    if not execution.is_final:
        return None
    outputs = (
        endpoint_outputs(execution, wrap=wrap, file_url=file_url)
        if execution.status == ExecutionStatus.SUCCEEDED
        else {}
    )
    return Final(execution.status, execution.status_reason, outputs)


# -- answers -------------------------------------------------------------------


def _answer(execution: Execution, final: Final) -> HttpResponse:
    if final.status != ExecutionStatus.SUCCEEDED:
        execution.status, execution.status_reason = final.status, final.reason
        raise execution_failure(execution)
    return JsonResponse(
        {"execution_id": execution.execution_id, "outputs": final.outputs}
    )


def _see_result(path: str, execution: Execution) -> HttpResponse:
    response = JsonResponse({"execution_id": execution.execution_id}, status=303)
    response["Location"] = reverse(
        "endpoints:result",
        kwargs={"path": path, "execution_id": execution.execution_id},
    )
    return response


def _file_url(path: str, execution: Execution) -> Callable[[str], str]:
    def build(output_name: str) -> str:
        # No query string: the SDK appends `?token=` to this URL as it is.
        return public_url(
            reverse(
                "endpoints:output_file",
                kwargs={
                    "path": path,
                    "execution_id": execution.execution_id,
                    "output_name": quote(output_name, safe=""),
                },
            )
        )

    return build
