"""Every public route, every malformed body: a 4xx naming the problem, never a 500.

Routes are read from the URL configuration and the OpenAPI document, so a
new route is covered without touching this table. Each face answers in its
own shape: JSON {"message", "name"} (API, endpoints), S3-style XML (signed
data-store URLs), a 4xx page (UI forms).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLResolver, get_resolver

from accounts.services import access_token_issue, sdk_token_create
from datastore.services import datastore_save
from datastore.signing import signed_url
from deployments.endpoints.access import endpoint_token_create
from deployments.models import Deployment
from deployments.selectors import deployment_token
from deployments.services.deployment_triggers import (
    deployment_trigger,
)
from deployments.services.deployments import (
    deployment_create,
)
from executions.models import ExecutionStatus
from executions.services.lifecycle import (
    execution_claim,
    execution_finish,
)
from executions.services.variables import environment_variables_set
from platform_site.urls import api
from tests.deployments.factories import make_pipeline

pytestmark = pytest.mark.django_db

NAME = "fuzz-target"
BODY_METHODS = ("post", "put", "patch", "delete")
TRIGGER = "/endpoints/<str:path>"
MAX_REQUEST_BYTES = 64 * 1024


@dataclass(frozen=True)
class Body:
    content_type: str
    data: bytes


def _fields(count: int) -> bytes:
    return "&".join(f"f{i}=1" for i in range(count)).encode()


MALFORMED = {
    "nan": Body("application/json", b'{"number1": NaN, "a": Infinity}'),
    "deep": Body("application/json", b"[" * 50_000 + b"]" * 50_000),
    "invalid-utf8": Body("application/json", b'{"number1": "\xff\xfe"}'),
    "nul-in-json": Body(
        "application/json", b'{"name": "a\\u0000b", "number1": "\\u0000"}'
    ),
    "wrong-content-type": Body("application/xml", b"<number1>1</number1>"),
    "no-boundary": Body(
        "multipart/form-data",
        b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1',
    ),
    "too-many-fields": Body("application/x-www-form-urlencoded", _fields(10_001)),
    "oversized": Body(
        "application/json",
        b'{"a": "' + b"x" * (2 * MAX_REQUEST_BYTES) + b'"}',
    ),
}


# A DELETE body is read by no route schema: refused by the same rule all the same.
MALFORMED_DELETE = {
    **MALFORMED,
    "invalid-json": Body("application/json", b'{"path_to_object": '),
    "non-object": Body("application/json", b'["fuzz-target/file.txt"]'),
    "not-json-text": Body("text/plain", b"path_to_object=fuzz-target/file.txt"),
    "nul-in-form": Body(
        "application/x-www-form-urlencoded", b"path_to_object=fuzz-target%00/file.txt"
    ),
}
# Dependants first, so each DELETE finds its object (a pipeline's deployment goes before it).
DELETE_ORDER = (
    "endpoint-tokens",
    "executions",
    "environment-variables",
    "data-store",
    "deployments",
    "pipelines",
)


@dataclass
class World:
    api: Client
    endpoint: Client
    ui: Client
    browser: Client
    anonymous: Client
    values: dict[str, str]


@pytest.fixture
def world(alice, settings) -> World:
    settings.ENDPOINT_HOLD_S = 0
    settings.LONG_POLL_HOLD_S = 0
    settings.MAX_REQUEST_BYTES = MAX_REQUEST_BYTES
    pipeline = make_pipeline(
        name=NAME,
        inputs=[{"name": "number1", "data_type": "number", "is_required": True}],
        outputs=[{"name": "number3", "data_type": "number"}],
    )
    deployment = deployment_create(
        pipeline=pipeline, name=NAME, execution_rule="endpoint", created_by=alice
    )
    execution = deployment_trigger(
        deployment=deployment, values={"number1": 1}, files={}, created_by=alice
    )
    execution_claim(execution_pk=execution.pk)
    execution_finish(
        execution=execution,
        status=ExecutionStatus.SUCCEEDED,
        reason=None,
        outputs={"number3": {"value": 2}},
    )
    datastore_save(path=f"{NAME}/file.txt", fileobj=io.BytesIO(b"data"))
    environment_variables_set(values={"FUZZ_TARGET": "1"})
    issued = sdk_token_create(user=alice, name="fuzz")
    ui, browser = Client(), Client(enforce_csrf_checks=True)
    ui.force_login(alice)
    browser.force_login(alice)
    return World(
        api=Client(
            headers={
                "Authorization": f"Bearer {access_token_issue(refresh_token=issued.raw)}"
            }
        ),
        endpoint=Client(
            headers={"Authorization": f"EndpointToken {deployment_token(deployment)}"}
        ),
        ui=ui,
        browser=browser,
        anonymous=Client(),
        values={
            "name": NAME,
            "path": NAME,
            "execution_id": execution.execution_id,
            "output_name": "number3",
            "direction": "inputs",
            "token_id": str(issued.token.pk),
            "user_id": str(alice.pk),
        },
    )


def _fill(template: str, values: dict[str, str]) -> str:
    """A concrete path: `<str:name>` and `{name}` replaced by the world's values."""
    template = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m[1], "x"), template)
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], "x"), template)


def _destructive_last(routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Deleting routes (and logout) go last, so the others still find their objects."""
    return sorted(
        routes,
        key=lambda r: r[0] == "delete" or "delete" in r[1] or "logout" in r[1],
    )


def api_routes() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema()
    return _destructive_last(
        [(method, path) for path, ops in schema["paths"].items() for method in ops]
    )


def _django_patterns(patterns, prefix: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace != "api":  # the API comes from its schema
                yield from _django_patterns(
                    pattern.url_patterns, prefix + str(pattern.pattern)
                )
        else:
            yield "/" + prefix + str(pattern.pattern)


def delete_routes() -> list[str]:
    paths = [path for method, path in api_routes() if method == "delete"]
    return sorted(
        paths,
        key=lambda p: next(i for i, part in enumerate(DELETE_ORDER) if part in p),
    )


def page_routes() -> list[tuple[str, str]]:
    """Every non-API route; the UI forms are all POSTs."""
    return _destructive_last(
        [
            ("post", path)
            for path in _django_patterns(get_resolver().url_patterns)
            if not path.startswith(("/endpoints/", "/data-store/signed/"))
        ]
    )


def endpoint_routes() -> list[tuple[str, str]]:
    return [
        ("post", path)
        for path in _django_patterns(get_resolver().url_patterns)
        if path.startswith("/endpoints/")
    ]


def send(client: Client, method: str, path: str, body: Body):
    return client.generic(
        method.upper(), path, body.data, content_type=body.content_type
    )


def assert_json_error(response, where: str) -> None:
    assert response.status_code < 500, where
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/json"), where
        error = response.json()
        assert error["message"] and error["name"], where


@pytest.mark.parametrize("case", MALFORMED)
def test_it_refuses_malformed_bodies_on_every_api_route(world, case):
    body = MALFORMED[case]
    failures = []
    for method, template in api_routes():
        path = _fill(template, world.values)
        response = send(world.api, method, path, body)
        where = f"{method.upper()} {path} [{case}] -> {response.status_code} {response.content[:200]!r}"
        try:
            assert_json_error(response, where)
            if method in BODY_METHODS:
                assert 400 <= response.status_code < 500, where
        except AssertionError:
            failures.append(where)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("case", MALFORMED_DELETE)
def test_it_refuses_malformed_bodies_on_every_delete_route_and_deletes_nothing(
    world, case
):
    body = MALFORMED_DELETE[case]
    failures = []
    for template in delete_routes():
        path = _fill(template, world.values)
        response = send(world.api, "delete", path, body)
        where = f"DELETE {path} [{case}] -> {response.status_code} {response.content[:200]!r}"
        # A 404 would mean an earlier DELETE went through.
        if response.status_code not in (400, 413, 415):
            failures.append(where)
        else:
            assert_json_error(response, where)
    assert not failures, "\n".join(failures)


def test_it_still_deletes_without_a_body_and_with_the_clients_form(world):
    """As craft-ai-sdk 0.74 sends them: no body, except a form for the data store."""
    form = Body(
        "application/x-www-form-urlencoded", b"path_to_object=fuzz-target/file.txt"
    )
    empty = Body("application/octet-stream", b"")
    deployment = Deployment.objects.get(name=NAME)
    issued = endpoint_token_create(deployment=deployment, name="fuzz")
    values = {**world.values, "token_id": str(issued.token.pk)}
    for template in delete_routes():
        if "environment-variables" in template:
            path = _fill(template, {"name": "FUZZ_TARGET"})
        else:
            path = _fill(template, values)
        body = form if path.startswith("/api/v1/data-store/") else empty
        response = send(world.api, "delete", path, body)

        assert response.status_code in (200, 204), (path, response.content[:200])


@pytest.mark.parametrize("case", MALFORMED)
def test_it_refuses_malformed_bodies_on_every_endpoint_route(world, case):
    body = MALFORMED[case]
    failures = []
    for client in (world.endpoint, world.anonymous):
        for method, template in endpoint_routes():
            path = _fill(template, world.values)
            response = send(client, method, path, body)
            where = f"{method.upper()} {path} [{case}] -> {response.status_code} {response.content[:200]!r}"
            try:
                assert_json_error(response, where)
                # The result routes ignore a body (curl -L re-posts one); the trigger reads it.
                if template == TRIGGER:
                    assert 400 <= response.status_code < 500, where
            except AssertionError:
                failures.append(where)
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("case", MALFORMED)
def test_it_never_fails_a_page_on_a_malformed_body(world, case):
    """Views see the body as the test client sends it; a browser's CSRF check reads it first."""
    body = MALFORMED[case]
    failures = []
    for client, must_refuse in (
        (world.ui, False),
        (world.browser, True),
        (world.anonymous, False),
    ):
        for method, template in page_routes():
            path = _fill(template, world.values)
            response = send(client, method, path, body)
            refused = 400 <= response.status_code < 500
            if response.status_code >= 500 or (must_refuse and not refused):
                failures.append(
                    f"{method.upper()} {path} [{case}] -> {response.status_code}"
                )
    assert not failures, "\n".join(failures)


def _signed_path(action: str, **claims) -> str:
    parts = urlsplit(signed_url(action=action, path=f"{NAME}/file.txt", **claims))
    return f"{parts.path}?{parts.query}"


@pytest.mark.parametrize("case", MALFORMED)
def test_it_refuses_malformed_bodies_on_signed_urls_in_xml(world, case):
    body = MALFORMED[case]
    upload = send(world.anonymous, "post", _signed_path("upload"), body)

    assert 400 <= upload.status_code < 500
    assert upload["Content-Type"] == "application/xml"
    assert b"<Code>" in upload.content and b"<Message>" in upload.content


@pytest.mark.parametrize("case", MALFORMED)
def test_it_never_fails_signed_parts_and_downloads(world, case):
    body = MALFORMED[case]
    start = world.api.post(
        "/api/v1/data-store/upload/multipart",
        {"path_to_object": f"{NAME}/big.bin"},
        content_type="application/json",
    ).json()
    part = send(
        world.anonymous,
        "put",
        _signed_path("part", u=start["upload_id"], n=1).replace("file.txt", "big.bin"),
        body,
    )
    download = send(world.anonymous, "get", _signed_path("download"), body)

    # A part's bytes are anything at all: only the size is refused.
    assert part.status_code < 500 and download.status_code < 500
    if body is MALFORMED["oversized"]:
        assert part.status_code == 413 and part["Content-Type"] == "application/xml"


def _form(**fields: str) -> Body:
    return Body(MULTIPART_CONTENT, encode_multipart(BOUNDARY, fields))


@pytest.mark.parametrize(
    ("client", "path", "body", "field"),
    [
        (
            "api",
            f"/api/v1/pipelines/{NAME}/run",
            _form(json_inputs='{"number1": NaN}'),
            "json_inputs",
        ),
        (
            "api",
            f"/api/v1/pipelines/{NAME}/run",
            _form(json_inputs="[" * 50_000),
            "json_inputs",
        ),
        ("endpoint", f"/endpoints/{NAME}", _form(number1="NaN"), "number1"),
        ("endpoint", f"/endpoints/{NAME}", _form(number1="Infinity"), "number1"),
        (
            "api",
            f"/api/v1/deployments/{NAME}/executions",
            _form(number1="NaN"),
            "number1",
        ),
    ],
)
def test_it_names_the_form_field_that_holds_bad_json(world, client, path, body, field):
    response = send(getattr(world, client), "post", path, body)

    assert response.status_code == 400
    assert field in response.json()["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/metrics/single-value",
        "/api/v1/execution-comparisons",
        "/api/v1/executions",
    ],
)
def test_a_nul_in_a_query_parameter_is_a_400_on_every_api_route(api_client, path):
    response = api_client.get(path, {"filters[name]": "a\x00", "a": "x\x00"})

    assert response.status_code == 400
    assert response.json()["name"] == "MalformedQuery"
    assert "NUL" in response.json()["message"]
