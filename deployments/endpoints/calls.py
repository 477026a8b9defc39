"""Reading an endpoint call: its token, its body, and the answer to its errors.

Shared by the public endpoint views, the endpoint's OpenAPI document and the
API's trigger route, so that every face reads a call the same way.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from deployments.endpoints.access import (
    endpoint_main_token_used,
    endpoint_token_accepts,
)
from deployments.endpoints.rate_limit import RateLimited
from deployments.endpoints.tokens import token_decrypt, token_matches
from deployments.models import Deployment
from deployments.selectors import deployment_for_endpoint_path
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
# How "Triggered by" names the deployment's own token (named tokens go by their name).
MAIN_TOKEN_NAME = "main token"


def endpoint_token_of(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != TOKEN_SCHEME or not token.strip():
        return None
    return token.strip()


def endpoint_authorize(
    request: HttpRequest, path: str, token: str | None
) -> tuple[Deployment, str]:
    """(the deployment, the name of the token that opened it); 401 otherwise.

    401 without a token, and 401 alike for an unknown path and a wrong token:
    one answer for both, so that endpoint names cannot be enumerated.
    """
    if token is None:
        raise NotAuthenticated(ENDPOINT_TOKEN_MISSING)
    deployment = deployment_for_endpoint_path(path)
    expected = (
        token_decrypt(deployment.endpoint_token_encrypted) if deployment else None
    )
    if deployment is None:
        raise NotAuthenticated(ENDPOINT_REFUSED)
    if token_matches(token, expected):
        endpoint_main_token_used(deployment=deployment)
        return deployment, MAIN_TOKEN_NAME
    name = endpoint_token_accepts(deployment=deployment, raw=token)
    if name is None:
        raise NotAuthenticated(ENDPOINT_REFUSED)
    return deployment, name


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


def errors_as_json(view):
    """Every ApiError of an endpoint view answers JSON {message, name}; 429 says when to retry."""

    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except RateLimited as exc:
            response = api_error_response(exc)
            response["Retry-After"] = str(exc.retry_after_s)
            return response
        except ApiError as exc:
            return api_error_response(exc)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped
