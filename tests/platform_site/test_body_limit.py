"""Oversized bodies are refused at the ASGI door, before Django spools them to disk."""

from __future__ import annotations

import asyncio
import json

import pytest

from platform_site.asgi import django_application
from platform_site.http.body_limit import BodyLimit

LIMIT = 1000


@pytest.fixture(autouse=True)
def _small_limit(settings):
    settings.MAX_REQUEST_BYTES = LIMIT


async def reading_app(scope, receive, send):
    """Reads the whole body as Django does; says nothing if the client left."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def call(app, *, chunks: list[bytes], headers=()) -> tuple[int, bytes, int]:
    """(status, body, chunks read) for a POST sending `chunks`."""
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent: list[dict] = []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/endpoints",
        "raw_path": b"/api/v1/endpoints",
        "query_string": b"",
        "headers": list(headers),
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 5000),
        "scheme": "http",
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
    }
    asyncio.run(BodyLimit(app)(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body"
    )
    return start["status"], body, len(chunks) - len(pending)


def test_it_passes_bodies_within_the_limit():
    status, body, _ = call(reading_app, chunks=[b"x" * 600, b"x" * 400])

    assert (status, body) == (200, b"1000")


def test_it_refuses_a_declared_length_over_the_limit_without_reading():
    status, body, read = call(
        reading_app, chunks=[b"x" * 10], headers=[(b"content-length", b"1001")]
    )

    assert status == 413 and read == 0
    assert json.loads(body)["name"] == "PayloadTooLarge"


def test_it_cuts_a_chunked_body_as_soon_as_it_passes_the_limit():
    status, body, read = call(reading_app, chunks=[b"x" * 600] * 10)

    assert status == 413 and read == 2
    assert "1000 bytes" in json.loads(body)["message"]


def test_it_cuts_a_chunked_body_in_front_of_django():
    status, body, _ = call(django_application, chunks=[b"x" * 600] * 10)

    assert status == 413
    assert json.loads(body)["name"] == "PayloadTooLarge"
