"""Request bodies, for every face: one strict JSON reader, one size rule, one error mapping.

Each malformed body becomes an ApiError naming the problem, so the API, the
public endpoints, the signed URLs and the pages all refuse it the same way
(as JSON, XML or text: see platform_site.http.middleware) and never with a 500.
"""

from __future__ import annotations

import io
import json
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import HttpRequest, QueryDict, UnreadablePostError
from django.http.multipartparser import MultiPartParserError

from platform_site.http.errors import ApiError, TooLarge

# Deeper than any real input; the check runs before anything recursive (the
# ORM's json.dumps, pydantic, templates) can meet the value.
MAX_JSON_DEPTH = 64
FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
API_MEDIA_TYPES = ("", "application/json", "text/plain", *FORM_TYPES)
# Route schemas read the bodies of POST, PUT and PATCH; no schema reads a
# DELETE's (the client sends a form to /data-store/delete, other routes none),
# so without this a malformed one went unnoticed and the object was deleted.
UNREAD_BODY_METHODS = ("DELETE",)
# What Django raises while reading a body; body_error maps each to a 4xx.
BODY_READ_ERRORS = (
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
    MultiPartParserError,
    UnreadablePostError,
    BadRequest,
    SuspiciousOperation,
)


class MalformedJson(ApiError):
    status = 400
    name = "MalformedJSON"


class MalformedBody(ApiError):
    status = 400
    name = "MalformedBody"


class MalformedQuery(ApiError):
    status = 400
    name = "MalformedQuery"


class UnsupportedMediaType(ApiError):
    status = 415
    name = "UnsupportedMediaType"


NUL_IN_STRING = (
    "{where} holds a NUL character (\\u0000), which PostgreSQL text cannot store."
)


def _refuse_constant(word: str) -> Any:
    # Python's json reads NaN and Infinity; PostgreSQL's jsonb, browsers and
    # every other JSON parser do not, so they would fail later as a 500.
    raise MalformedJson(f"{word} is not valid JSON: send a number, null or a string.")


def _shape_problem(value: Any) -> str | None:
    """Why PostgreSQL could not keep `value`: containers nested deeper than
    MAX_JSON_DEPTH, or a NUL in a string (text and jsonb refuse both); None
    when fine. One iterative walk (no recursion, however deep), of the
    containers only: it runs on every body.
    """
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if any("\x00" in key for key in item):
                return NUL_IN_STRING.format(where=_nul_location(value))
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:  # the body is one string or number
            if isinstance(item, str) and "\x00" in item:
                return NUL_IN_STRING.format(where="the body")
            continue
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > MAX_JSON_DEPTH:
                    return f"nested deeper than {MAX_JSON_DEPTH} levels."
                stack.append((child, depth + 1))
            elif isinstance(child, str) and "\x00" in child:
                return NUL_IN_STRING.format(where=_nul_location(value))
    return None


def _nul_location(value: Any) -> str:
    """Where the first NUL is (`inputs[2].name`), for the message; only walked once one was seen."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return where or "the body"
        if isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return f"a key of {where or 'the body'}"
                stack.append((child, f"{where}.{key}" if where else key))
        elif isinstance(item, list):
            stack.extend((child, f"{where}[{n}]") for n, child in enumerate(item))
    return "the body"


def json_loads(raw: bytes | str, *, what: str = "JSON body") -> Any:
    """Decode strict JSON (UTF-8, finite numbers, bounded depth); MalformedJson naming `what` otherwise."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as exc:
        raise MalformedJson(
            f"Malformed {what}: not valid UTF-8 (byte {exc.object[exc.start]:#04x} "
            f"at position {exc.start})."
        ) from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except MalformedJson as exc:
        raise MalformedJson(f"Malformed {what}: {exc.message}") from None
    except RecursionError:
        raise MalformedJson(
            f"Malformed {what}: nested deeper than {MAX_JSON_DEPTH} levels."
        ) from None
    except ValueError as exc:
        raise MalformedJson(f"Malformed {what}: {exc}.") from None
    problem = _shape_problem(value)
    if problem:
        raise MalformedJson(f"Malformed {what}: {problem}")
    return value


def json_request_body(request: HttpRequest) -> Any:
    """The request's JSON body ({} when empty).

    A body that is not JSON but declares a form type gets a 415 naming the
    type the route wants; other content types are read as JSON when they are.
    """
    if not request.body.strip():
        return {}
    try:
        return json_loads(request.body)
    except MalformedJson:
        if request.content_type in FORM_TYPES:
            raise UnsupportedMediaType(
                "This route takes a JSON body (Content-Type: application/json), "
                f"not {request.content_type}."
            ) from None
        raise


def content_length(request: HttpRequest) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def body_size_error(request: HttpRequest) -> TooLarge | None:
    """TooLarge when the declared body is over MAX_REQUEST_BYTES, checked before anything reads it."""
    length = content_length(request)
    if length > settings.MAX_REQUEST_BYTES:
        return TooLarge(
            f"Request body is too large: {length} bytes, the limit is "
            f"{settings.MAX_REQUEST_BYTES} bytes."
        )
    return None


def media_type_error(request: HttpRequest) -> UnsupportedMediaType | None:
    """UnsupportedMediaType when an API body is in a type no API route reads.

    text/plain stays accepted (and read as JSON): it is what a browser's
    fetch() sends for a string body without a Content-Type.
    """
    if content_length(request) == 0:
        return None
    media = request.content_type or ""
    if media in API_MEDIA_TYPES or media.endswith("+json"):
        return None
    return UnsupportedMediaType(
        f"Unsupported Content-Type {media!r}: send application/json, "
        "multipart/form-data or application/x-www-form-urlencoded."
    )


def query_error(request: HttpRequest) -> MalformedQuery | None:
    """MalformedQuery when a query parameter holds a NUL: PostgreSQL text cannot store one."""
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            return MalformedQuery(
                f"Query parameter {key.replace(chr(0), '')!r} holds a NUL character."
            )
    return None


def _body_fields(request: HttpRequest) -> QueryDict | dict[str, Any]:
    """The body's fields, read by the reader of its media type; ApiError or Django's errors otherwise."""
    if request.content_type == "application/x-www-form-urlencoded":
        return QueryDict(request.body, encoding=request.encoding)
    if request.content_type == "multipart/form-data":
        fields, _files = request.parse_file_upload(
            request.META, io.BytesIO(request.body)
        )
        return fields
    value = json_request_body(request)
    if not isinstance(value, dict):
        raise MalformedJson(
            f"Malformed JSON body: expected an object, got {type(value).__name__}."
        )
    return value


def unread_body_error(request: HttpRequest) -> ApiError | None:
    """The refusal for a malformed body that no route schema reads (DELETE); None when well-formed or empty.

    The body must be what a POST route would accept: a strict JSON object,
    or form fields without a NUL (PostgreSQL text cannot store one).
    """
    if request.method not in UNREAD_BODY_METHODS:
        return None
    try:
        if not request.body.strip():
            return None  # the client sends most DELETEs without a body
        fields = _body_fields(request)
    except (ApiError, *BODY_READ_ERRORS) as exc:
        return body_error(exc)
    if isinstance(fields, QueryDict):
        for key, values in fields.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return MalformedBody(
                    f"Form field {key.replace(chr(0), '')!r} holds a NUL character."
                )
    return None


def body_error(exc: BaseException) -> ApiError | None:
    """The ApiError for an exception Django raises while reading a body; None for any other."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return TooLarge(
            "Request body is too large: form fields and JSON bodies are limited to "
            f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
        )
    if isinstance(exc, TooManyFieldsSent):
        return MalformedBody(
            f"Too many form fields: the limit is {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}.",
            name="TooManyFields",
        )
    if isinstance(exc, TooManyFilesSent):
        return MalformedBody(
            f"Too many files: the limit is {settings.DATA_UPLOAD_MAX_NUMBER_FILES}.",
            name="TooManyFiles",
        )
    if isinstance(exc, MultiPartParserError):
        return MalformedBody(f"Malformed multipart body: {exc}.")
    if isinstance(exc, UnreadablePostError):
        return MalformedBody("The request body could not be read in full.")
    if isinstance(exc, BadRequest | SuspiciousOperation):
        return MalformedBody(f"Bad request: {exc}.")
    return None
