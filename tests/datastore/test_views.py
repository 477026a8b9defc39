from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from datastore.services import datastore_info, datastore_save
from datastore.views import UPLOAD_NO_FILE
from platform_site.http.errors import NotFound

BROWSE = "/data-store/"


def save(path: str, data: bytes = b"x") -> None:
    datastore_save(path=path, fileobj=io.BytesIO(data))


@pytest.mark.parametrize(
    "url", [BROWSE, "/data-store/download?path=a", "/data-store/delete?path=a"]
)
def test_it_sends_anonymous_users_to_login(db, url):
    r = Client().get(url)
    assert r.status_code == 302
    assert "/accounts/login/" in r["Location"]


def test_it_sends_anonymous_uploads_to_login(db):
    r = Client().post("/data-store/upload", {"folder": ""})
    assert r.status_code == 302
    assert "/accounts/login/" in r["Location"]


def test_it_lists_folders_first_then_files(alice_client):
    save("zeta.csv", b"12345")
    save("alpha/x.csv")
    r = alice_client.get(BROWSE)
    html = r.content.decode()
    assert r.status_code == 200
    assert html.index("alpha/") < html.index("zeta.csv")
    assert "5 bytes" in html


def test_it_browses_a_sub_folder_with_breadcrumbs(alice_client):
    save("a/b/c.csv")
    r = alice_client.get(BROWSE, {"folder": "a/b"})
    html = r.content.decode()
    assert "c.csv" in html
    assert "?folder=a" in html  # breadcrumb back to a


def test_it_answers_404_for_an_unknown_folder(alice_client):
    assert alice_client.get(BROWSE, {"folder": "nothing"}).status_code == 404


def test_it_answers_404_for_a_traversal_folder(alice_client):
    assert alice_client.get(BROWSE, {"folder": "../"}).status_code == 404


def test_it_renders_only_the_listing_for_htmx(alice_client):
    r = alice_client.get(BROWSE, headers={"HX-Request": "true"})
    html = r.content.decode()
    assert html.lstrip().startswith('<section id="listing">')
    assert "<html" not in html


def test_it_escapes_a_rejected_file_name(alice_client):
    name = '<img src=x onerror="alert(1)">.csv'
    r = alice_client.post(
        "/data-store/upload", {"folder": "", "file": SimpleUploadedFile(name, b"1")}
    )
    assert r.status_code == 400
    assert b"<img src=x" not in r.content
    assert b"&lt;img src=x" in r.content


def test_it_does_not_reflect_a_crafted_folder(alice_client):
    r = alice_client.get(BROWSE, {"folder": "<script>"})
    assert r.status_code == 404
    assert b"<script>" not in r.content


def test_it_uploads_into_the_current_folder(alice_client):
    save("d/keep")
    r = alice_client.post(
        "/data-store/upload",
        {"folder": "d", "file": SimpleUploadedFile("new.csv", b"1,2")},
    )
    assert r.status_code == 302
    assert r["Location"] == "/data-store/?folder=d"
    assert datastore_info("d/new.csv").size == 3


def test_it_uploads_under_a_chosen_name(alice_client):
    alice_client.post(
        "/data-store/upload",
        {
            "folder": "",
            "name": "sub/renamed.csv",
            "file": SimpleUploadedFile("x", b"1"),
        },
    )
    assert datastore_info("sub/renamed.csv").size == 1


def test_it_shows_an_invalid_name_error(alice_client):
    r = alice_client.post(
        "/data-store/upload",
        {"folder": "", "file": SimpleUploadedFile("my file.csv", b"1")},
    )
    assert r.status_code == 400
    assert "my file.csv" in r.content.decode()


def test_it_asks_for_a_file(alice_client):
    r = alice_client.post("/data-store/upload", {"folder": ""})
    assert r.status_code == 400
    assert UPLOAD_NO_FILE in r.content.decode()


def test_it_returns_the_listing_fragment_after_an_htmx_upload(alice_client):
    r = alice_client.post(
        "/data-store/upload",
        {"folder": "", "file": SimpleUploadedFile("h.csv", b"1")},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert "Uploaded h.csv" in r.content.decode()


def test_it_refuses_get_on_upload(alice_client):
    assert alice_client.get("/data-store/upload").status_code == 405


def test_it_refuses_post_on_browse(alice_client):
    assert alice_client.post(BROWSE).status_code == 405


def test_it_downloads_a_file(alice_client):
    save("d/a.csv", b"1,2")
    r = alice_client.get("/data-store/download", {"path": "d/a.csv"})
    assert r.status_code == 200
    assert 'filename="a.csv"' in r["Content-Disposition"]
    assert b"".join(r.streaming_content) == b"1,2"


@pytest.mark.parametrize("path", ["nope.csv", "../x", ""])
def test_it_answers_404_for_unknown_downloads(alice_client, path):
    assert alice_client.get("/data-store/download", {"path": path}).status_code == 404


def test_it_asks_for_confirmation_before_deleting(alice_client):
    save("d/a.csv")
    r = alice_client.get("/data-store/delete", {"path": "d/a.csv"})
    assert r.status_code == 200
    assert "d/a.csv" in r.content.decode()
    assert datastore_info("d/a.csv")


def test_it_deletes_on_post_and_returns_to_the_nearest_folder(alice_client):
    save("d/e/a.csv")
    save("d/keep")
    r = alice_client.post("/data-store/delete", {"path": "d/e/a.csv"})
    assert r.status_code == 302
    assert r["Location"] == "/data-store/?folder=d"
    with pytest.raises(NotFound):
        datastore_info("d/e/a.csv")


def test_it_answers_404_when_deleting_unknown(alice_client):
    assert alice_client.post("/data-store/delete", {"path": "nope"}).status_code == 404


def test_it_refuses_put_on_delete(alice_client):
    assert alice_client.put("/data-store/delete").status_code == 405


def test_it_requires_csrf_on_delete(alice, db):
    save("a.csv")
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post("/data-store/delete", {"path": "a.csv"}).status_code == 403
    assert datastore_info("a.csv")
