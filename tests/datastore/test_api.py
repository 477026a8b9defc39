from __future__ import annotations

import io
from urllib.parse import urlsplit

import pytest
from django.test import Client

from datastore.services import datastore_info, datastore_save

API = "/api/v1/data-store"


def save(path: str, data: bytes = b"x") -> None:
    datastore_save(path=path, fileobj=io.BytesIO(data))


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_it_requires_a_bearer_token(db):
    r = Client().get(f"{API}/list")
    assert r.status_code == 401
    assert r.json()["name"] == "Unauthorized"


def test_it_returns_object_information(api_client):
    save("dir/a.csv", b"12345")
    r = api_client.post(
        f"{API}/information",
        {"path_to_object": "dir/a.csv"},
        content_type="application/json",
    )
    assert r.status_code == 200
    body = r.json()
    assert body["path"] == "dir/a.csv"
    assert body["size"] == 5
    assert body["last_modified"].endswith("Z")


def test_it_answers_404_for_unknown_information(api_client):
    r = api_client.post(
        f"{API}/information",
        {"path_to_object": "nope"},
        content_type="application/json",
    )
    assert r.status_code == 404
    assert "nope" in r.json()["message"]


@pytest.mark.parametrize("path", ["../x", "..%2fx", "/abs", "x\x00", "\u2024\u2024/x"])
def test_it_answers_400_naming_path_to_object(api_client, path):
    r = api_client.post(
        f"{API}/information", {"path_to_object": path}, content_type="application/json"
    )
    assert r.status_code == 400
    assert "path_to_object" in r.json()["message"]


def test_it_answers_400_when_path_to_object_is_missing(api_client):
    r = api_client.post(f"{API}/information", {}, content_type="application/json")
    assert r.status_code == 400
    assert "path_to_object" in r.json()["message"]


def test_it_lists_a_folder(api_client):
    save("dir/a.csv")
    save("other.csv")
    r = api_client.get(f"{API}/list", {"folder_path": "dir"})
    body = r.json()
    assert [i["path"] for i in body["items"]] == ["dir/a.csv"]
    assert body["continuation_token"] is None
    assert isinstance(body["items"][0]["size"], int)


def test_it_lists_everything_without_folder(api_client):
    save("dir/a.csv")
    save("other.csv")
    r = api_client.get(f"{API}/list")
    assert [i["path"] for i in r.json()["items"]] == ["dir/a.csv", "other.csv"]


def test_it_paginates_with_a_continuation_token(api_client, monkeypatch):
    monkeypatch.setattr("datastore.api.PAGE_SIZE", 2)
    for n in range(3):
        save(f"p/{n}")
    first = api_client.get(f"{API}/list", {"folder_path": "p"}).json()
    second = api_client.get(
        f"{API}/list",
        {"folder_path": "p", "continuation_token": first["continuation_token"]},
    ).json()
    assert [i["path"] for i in first["items"] + second["items"]] == [
        "p/0",
        "p/1",
        "p/2",
    ]
    assert second["continuation_token"] is None


def test_it_refuses_a_forged_continuation_token(api_client):
    r = api_client.get(f"{API}/list", {"continuation_token": "Li4vLi4v"})  # "../../"
    assert r.status_code == 400
    assert "continuation_token" in r.json()["message"]


def test_it_refuses_a_traversal_folder(api_client):
    r = api_client.get(f"{API}/list", {"folder_path": "../"})
    assert r.status_code == 400
    assert "folder_path" in r.json()["message"]


def test_it_uploads_through_a_signed_url(api_client, settings):
    r = api_client.get(f"{API}/upload", {"path_to_object": "dir/up.csv"})
    body = r.json()
    assert body["signed_url"].startswith(settings.PUBLIC_URL + "/")
    assert body["fields"] == {}
    upload = io.BytesIO(b"a,b\n")
    upload.name = "up.csv"
    r = Client().post(relative(body["signed_url"]), {**body["fields"], "file": upload})
    assert r.status_code == 204
    assert datastore_info("dir/up.csv").size == 4


def test_it_never_echoes_the_host_header_into_signed_urls(api_client, settings):
    settings.ALLOWED_HOSTS = ["*"]
    settings.PUBLIC_URL = "https://platform.example.org"

    r = api_client.get(
        f"{API}/upload", {"path_to_object": "a.csv"}, HTTP_HOST="evil.example.com"
    )

    assert r.json()["signed_url"].startswith("https://platform.example.org/")


def test_it_refuses_to_sign_an_invalid_upload_path(api_client):
    r = api_client.get(f"{API}/upload", {"path_to_object": "../x"})
    assert r.status_code == 400
    assert "path_to_object" in r.json()["message"]


def test_it_downloads_through_a_signed_url(api_client):
    save("dir/a.csv", b"content")
    r = api_client.post(f"{API}/download", {"path_to_object": "dir/a.csv"})
    r = Client().get(relative(r.json()["signed_url"]))
    assert r.status_code == 200
    assert b"".join(r.streaming_content) == b"content"


def test_it_answers_404_when_downloading_unknown(api_client):
    r = api_client.post(f"{API}/download", {"path_to_object": "nope"})
    assert r.status_code == 404


def test_it_deletes_with_a_form_body(api_client):
    save("dir/a.csv")
    r = api_client.delete(
        f"{API}/delete",
        "path_to_object=dir%2Fa.csv",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 200
    assert r.json() == {"path": "dir/a.csv"}


def test_it_answers_404_when_deleting_unknown(api_client):
    r = api_client.delete(
        f"{API}/delete",
        "path_to_object=nope",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 404


def test_it_answers_400_when_delete_has_no_path(api_client):
    r = api_client.delete(f"{API}/delete")
    assert r.status_code == 400
    assert "path_to_object" in r.json()["message"]


def test_it_runs_a_multipart_upload(api_client):
    path = "big/file.bin"
    data = b"0123456789"
    config = api_client.post(
        f"{API}/upload/multipart",
        {"path_to_object": path},
        content_type="application/json",
    ).json()
    parts = []
    for n, chunk in enumerate([data[:4], data[4:8], data[8:]], start=1):
        payload = {
            "path_to_object": path,
            "multipart_upload_configuration": config,
            "chunk_size": 4,
            "part_number": n,
        }
        if n == 3:
            payload["size"] = len(data)
        signed = api_client.post(
            f"{API}/upload/multipart/part", payload, content_type="application/json"
        ).json()
        assert signed["headers"] == {}
        r = Client().put(
            relative(signed["signed_url"]),
            chunk,
            content_type="application/octet-stream",
        )
        assert r.status_code == 200
        parts.append({"number": n, "metadata": r["ETag"]})
    r = api_client.post(
        f"{API}/upload/multipart/end",
        {
            "path_to_object": path,
            "multipart_upload_configuration": config,
            "parts": parts,
        },
        content_type="application/json",
    )
    assert r.status_code == 200
    assert datastore_info(path).size == 10


def test_it_fails_loudly_when_a_multipart_part_is_missing(api_client):
    config = api_client.post(
        f"{API}/upload/multipart",
        {"path_to_object": "f.bin"},
        content_type="application/json",
    ).json()
    r = api_client.post(
        f"{API}/upload/multipart/end",
        {
            "path_to_object": "f.bin",
            "multipart_upload_configuration": config,
            "parts": [{"number": 1}],
        },
        content_type="application/json",
    )
    assert r.status_code == 400
    assert "Part 1" in r.json()["message"]


def test_it_answers_405_in_json_for_a_wrong_method(api_client):
    r = api_client.get(f"{API}/delete")
    assert r.status_code == 405
    assert r.json()["name"] == "MethodNotAllowed"
