from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
import time_machine
from django.test import Client

from datastore.services import datastore_info, datastore_save
from datastore.signing import SIGNED_URL_TTL_S, signed_url

START = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def url_for(action: str, path: str, **claims) -> str:
    parts = urlsplit(signed_url(action=action, path=path, **claims))
    return f"{parts.path}?{parts.query}"


def xml(response) -> dict:
    assert response["Content-Type"] == "application/xml"
    return {node.tag: node.text for node in ET.fromstring(response.content)}


def upload_file(data: bytes = b"abc") -> io.BytesIO:
    f = io.BytesIO(data)
    f.name = "f.csv"
    return f


def test_it_builds_urls_from_the_public_url(settings):
    settings.PUBLIC_URL = "https://platform.example.org"

    url = signed_url(action="download", path="a")

    assert url.startswith(
        "https://platform.example.org/data-store/signed/download?token="
    )


def test_it_needs_no_session_or_bearer(db):
    r = Client().post(url_for("upload", "a.csv"), {"file": upload_file()})
    assert r.status_code == 204
    assert datastore_info("a.csv").size == 3


def test_it_refuses_a_tampered_signature(db):
    url = url_for("upload", "a.csv")
    r = Client().post(url[:-3] + "xyz", {"file": upload_file()})
    assert r.status_code == 403
    assert xml(r)["Code"] == "AccessDenied"


def test_it_refuses_a_missing_signature(db):
    r = Client().get("/data-store/signed/download")
    assert r.status_code == 403
    assert xml(r)["Code"] == "AccessDenied"


def test_it_refuses_a_token_for_another_action(db):
    token_url = url_for("download", "a.csv")
    query = urlsplit(token_url).query
    r = Client().post(f"/data-store/signed/upload?{query}", {"file": upload_file()})
    assert r.status_code == 403


def test_it_refuses_an_expired_url(db):
    with time_machine.travel(START, tick=False):
        url = url_for("upload", "a.csv")
    with time_machine.travel(
        START + timedelta(seconds=SIGNED_URL_TTL_S + 1), tick=False
    ):
        r = Client().post(url, {"file": upload_file()})
    assert r.status_code == 403
    assert xml(r)["Message"] == "Request has expired."


def test_it_accepts_a_url_before_expiry(db):
    with time_machine.travel(START, tick=False):
        url = url_for("upload", "a.csv")
    with time_machine.travel(
        START + timedelta(seconds=SIGNED_URL_TTL_S - 5), tick=False
    ):
        r = Client().post(url, {"file": upload_file()})
    assert r.status_code == 204


def test_it_answers_405_in_xml_for_a_wrong_method(db):
    r = Client().get(url_for("upload", "a.csv"))
    assert r.status_code == 405
    assert xml(r)["Code"] == "MethodNotAllowed"


def test_it_answers_no_such_key_in_xml(db):
    r = Client().get(url_for("download", "dir/none.csv"))
    assert r.status_code == 404
    assert xml(r) == {
        "Code": "NoSuchKey",
        "Message": "Data store object 'dir/none.csv' not found.",
        "Key": "dir/none.csv",
    }


def test_it_refuses_an_upload_without_file_part(db):
    r = Client().post(url_for("upload", "a.csv"), {"other": "x"})
    assert r.status_code == 400
    assert xml(r)["Code"] == "InvalidArgument"


def test_it_refuses_an_oversized_single_upload(db, settings):
    settings.MAX_UPLOAD_BYTES = 2
    r = Client().post(url_for("upload", "a.csv"), {"file": upload_file(b"abc")})
    assert r.status_code == 413
    assert xml(r)["Code"] == "EntityTooLarge"


def test_it_escapes_the_key_in_xml(db):
    r = Client().get(url_for("download", "<x>&"))
    assert r.status_code == 400
    assert xml(r)["Key"] == "<x>&"


def test_it_serves_downloads_as_octet_stream(db):
    datastore_save(path="d/a.csv", fileobj=io.BytesIO(b"1,2"))
    r = Client().get(url_for("download", "d/a.csv"))
    assert r["Content-Type"] == "application/octet-stream"
    assert b"".join(r.streaming_content) == b"1,2"


@pytest.mark.parametrize("method", ["post", "get"])
def test_it_refuses_wrong_methods_on_part_urls(db, method):
    r = getattr(Client(), method)(url_for("part", "a", u="0" * 32, n=1))
    assert r.status_code == 405
