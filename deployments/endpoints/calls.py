"""Reading an endpoint call: its token, its body, and the answer to its errors.

Shared by the public endpoint views, the endpoint's OpenAPI document and the
API's trigger route, so that every face reads a call the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from deployments.endpoints.endpoint_cache import (
    CachedEndpoint,
    endpoint_cache,
    endpoint_use_record,
)
from deployments.endpoints.rate_limit import RateLimited
from deployments.models import Deployment
from deployments.services.deployment_triggers import MAX_FILES_PER_CALL
from platform_site.http.bodies import MalformedJson, content_length, json_loads
from platform_site.http.errors import (
    ApiError,
    NotAuthenticated,
    TooLarge,
    ValidationFailed,
    api_error_response,
)

TOKEN_SCHEME = "endpointtoken"
ENDPOINT_TOKEN_MISSING = (
    "Missing endpoint token: send 'Authorization: EndpointToken <token>'."
)
ENDPOINT_REFUSED = "No endpoint at this path accepts this token."

View = TypeVar("View", bound=Callable[..., Any])


def endpoint_token_of(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != TOKEN_SCHEME or not token.strip():
        return None
    return token.strip()


def endpoint_open(
    token: str | None, entry: CachedEndpoint | None
) -> tuple[str, object]:
    """(the name of the token that opens the endpoint `entry`, its key); 401 otherwise.

    401 without a token, and 401 alike for an unknown path and a wrong token:
    one answer for both, so that endpoint names cannot be enumerated.
    """
    if token is None:
        raise NotAuthenticated(ENDPOINT_TOKEN_MISSING)
    if entry is None:
        raise NotAuthenticated(ENDPOINT_REFUSED)
    name, key = entry.token_name(token, now=timezone.now())
    if name is None:
        raise NotAuthenticated(ENDPOINT_REFUSED)
    return name, key


def endpoint_authorize(
    request: HttpRequest, path: str, token: str | None
) -> tuple[Deployment, str]:
    """(the deployment, the name of the token that opened it), for the sync views; 401 otherwise."""
    if token is None:
        raise NotAuthenticated(ENDPOINT_TOKEN_MISSING)
    entry = endpoint_cache.kept(path) or endpoint_cache.load(path)
    name, key = endpoint_open(token, entry)
    assert entry is not None  # endpoint_open refused otherwise
    if entry.use_to_record(key, now=timezone.now()):
        endpoint_use_record(entry, key)
    return entry.deployment, name


def _decode_field(raw: str) -> Any:
    """SDK multipart fields hold json.dumps(value); curl -F a=x sends plain text."""
    try:
        return json_loads(raw)
    except MalformedJson:
        return raw


def call_body(request: HttpRequest) -> tuple[dict, dict]:
    """(values, files) keyed by endpoint input names, from JSON, multipart or an empty body."""
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        values = {key: _decode_field(request.POST[key]) for key in request.POST}
        files = {key: request.FILES[key] for key in request.FILES}
        if len(files) > MAX_FILES_PER_CALL:
            raise ValidationFailed(
                f"At most {MAX_FILES_PER_CALL} file per call; got {len(files)}: "
                + ", ".join(files)
                + "."
            )
        return values, files
    body = request.body
    if not body.strip():
        return {}, {}
    try:
        values = json_loads(body)
    except MalformedJson:
        if content_type == "application/x-www-form-urlencoded":
            # curl -d a=1 without a JSON content type: form fields, decoded like multipart.
            return {k: _decode_field(v) for k, v in request.POST.items()}, {}
        raise
    if not isinstance(values, dict):
        raise ValidationFailed(
            "The JSON body must be an object keyed by endpoint input names."
        )
    return values, {}


def call_size_check(request: HttpRequest) -> None:
    length = content_length(request)
    if length > settings.MAX_UPLOAD_BYTES:
        raise TooLarge(
            f"Request body is too large: {length} bytes, the limit is "
            f"{settings.MAX_UPLOAD_BYTES} bytes."
        )


def _error_answer(exc: ApiError) -> HttpResponse:
    response = api_error_response(exc)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after_s)
    return response


def errors_as_json(view: View) -> View:
    """Every ApiError of an endpoint view (sync or async) answers JSON {message, name}; 429 says when to retry."""
    if iscoroutinefunction(view):

        async def waited(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponse:
            try:
                return await view(request, *args, **kwargs)  # type: ignore[no-any-return]
            except ApiError as exc:
                return _error_answer(exc)

        return cast("View", functools.wraps(view)(waited))

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)  # type: ignore[no-any-return]
        except ApiError as exc:
            return _error_answer(exc)

    return cast("View", functools.wraps(view)(wrapped))
