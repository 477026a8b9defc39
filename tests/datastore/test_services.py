from __future__ import annotations

import io
import os
from datetime import UTC, datetime

import pytest
from django.conf import settings

from datastore.services import (
    datastore_browse,
    datastore_delete,
    datastore_info,
    datastore_list,
    datastore_open,
    datastore_save,
    datastore_store_output,
)
from platform_site.http.errors import Conflict, NotFound, TooLarge, ValidationFailed


def save(path: str, data: bytes = b"x") -> None:
    datastore_save(path=path, fileobj=io.BytesIO(data))


def test_it_saves_under_the_data_store_dir():
    save("dir/a.csv", b"a,b\n")
    assert (settings.DATASTORE_DIR / "dir" / "a.csv").read_bytes() == b"a,b\n"


def test_it_reports_size_and_utc_time():
    save("a.csv", b"12345")
    info = datastore_info("a.csv")
    assert info.size == 5
    assert info.last_modified.tzinfo is not None
    assert info.as_json()["last_modified"].endswith("Z")


def test_it_overwrites_an_object():
    save("a.csv", b"old")
    save("a.csv", b"new")
    with datastore_open("a.csv") as f:
        assert f.read() == b"new"


def test_it_leaves_no_temp_file_behind():
    save("d/a.csv")
    assert os.listdir(settings.DATASTORE_DIR / "d") == ["a.csv"]


def test_it_leaves_no_temp_file_when_too_large():
    with pytest.raises(TooLarge):
        datastore_save(path="d/a.csv", fileobj=io.BytesIO(b"xx"), max_bytes=1)
    assert os.listdir(settings.DATASTORE_DIR / "d") == []


def test_it_refuses_a_file_where_a_folder_is():
    save("d/a.csv")
    with pytest.raises(Conflict):
        save("d")


def test_it_refuses_a_folder_where_a_file_is():
    save("d")
    with pytest.raises(Conflict):
        save("d/a.csv")


def test_it_raises_not_found_for_unknown_objects():
    with pytest.raises(NotFound):
        datastore_info("nope.csv")


def test_it_does_not_follow_a_symlink_out_of_the_store(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("s")
    settings.DATASTORE_DIR.mkdir(parents=True, exist_ok=True)
    (settings.DATASTORE_DIR / "link").symlink_to(outside)
    with pytest.raises(ValidationFailed):
        datastore_info("link/secret")


def test_it_lists_recursively_in_key_order():
    for key in ["d/b.csv", "d/a/z.csv", "d-other.csv", "e/x.csv"]:
        save(key)
    page = datastore_list("d")
    assert [i.path for i in page.items] == ["d/a/z.csv", "d/b.csv"]
    assert page.next_after is None


def test_it_lists_everything_from_the_root():
    save("b")
    save("a/c")
    assert [i.path for i in datastore_list(None).items] == ["a/c", "b"]


def test_it_paginates():
    for n in range(5):
        save(f"p/{n}")
    first = datastore_list("p", limit=2)
    second = datastore_list("p", after=first.next_after, limit=2)
    third = datastore_list("p", after=second.next_after, limit=2)
    assert [i.path for i in first.items + second.items + third.items] == [
        f"p/{n}" for n in range(5)
    ]
    assert third.next_after is None


def test_it_lists_an_unknown_folder_as_empty():
    assert datastore_list("nothing").items == []


def test_it_hides_temp_files_from_listings():
    save("d/a.csv")
    (settings.DATASTORE_DIR / "d" / "~tmp-123").write_bytes(b"partial")
    assert [i.path for i in datastore_list("d").items] == ["d/a.csv"]


def test_it_deletes_and_prunes_empty_folders():
    save("a/b/c.csv")
    save("a/keep.csv")
    datastore_delete("a/b/c.csv")
    assert not (settings.DATASTORE_DIR / "a" / "b").exists()
    assert (settings.DATASTORE_DIR / "a" / "keep.csv").exists()


def test_it_raises_not_found_when_deleting_unknown():
    with pytest.raises(NotFound):
        datastore_delete("nope")


def test_it_browses_folders_first_then_files():
    save("d/sub/x")
    save("d/a.csv")
    listing = datastore_browse("d")
    assert listing.folders == ["sub"]
    assert [f.name for f in listing.files] == ["a.csv"]


def test_it_raises_not_found_when_browsing_unknown_folder():
    with pytest.raises(NotFound):
        datastore_browse("nothing")


def test_it_refuses_to_open_a_missing_input():
    with pytest.raises(NotFound) as exc:
        datastore_open("in/none.csv")
    assert "in/none.csv" in exc.value.message


def test_it_stores_an_output_with_placeholders():
    source = io.BytesIO(b"result")
    now = datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)
    path = datastore_store_output(
        path_template="out/{execution_id}/{date}/{date_time}.txt",
        source=source,
        execution_id="exec-1",
        now=now,
    )
    assert path == "out/exec-1/20250203/20250203_040506.txt"
    assert datastore_info(path).size == 6


def test_it_refuses_an_output_template_that_escapes():
    source = io.BytesIO(b"result")
    with pytest.raises(ValidationFailed):
        datastore_store_output(
            path_template="{execution_id}/../../x",
            source=source,
            execution_id="e",
            now=datetime.now(UTC),
        )


def test_it_stores_a_key_of_maximum_length():
    key = "/".join(["a" * 255] * 3 + ["b" * 254, "c"])
    save(key, b"deep")
    assert datastore_info(key).size == 4
