"""The data store on S3 (PLATFORM_STORAGE=s3) against a real S3-compatible server (moto)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from datastore.services import (
    datastore_browse,
    datastore_delete,
    datastore_folder_exists,
    datastore_info,
    datastore_list,
    datastore_open,
    datastore_save,
    datastore_store_output,
)
from platform_site.http.errors import NotFound, TooLarge, ValidationFailed


@pytest.fixture(autouse=True)
def storage(s3_storage):
    return s3_storage


def save(path: str, data: bytes = b"x") -> None:
    datastore_save(path=path, fileobj=io.BytesIO(data))


def test_it_writes_under_the_datastore_prefix_of_the_bucket(
    s3_server, storage, settings
):
    save("dir/a.csv", b"a,b\n")

    assert s3_server.keys(storage) == ["datastore/dir/a.csv"]
    assert not settings.DATASTORE_DIR.exists()


def test_it_reads_back_size_time_and_bytes():
    save("a.csv", b"12345")

    info = datastore_info("a.csv")
    with datastore_open("a.csv") as f:
        assert f.read() == b"12345"
    assert info.size == 5
    assert info.last_modified.tzinfo is not None


def test_it_says_not_found():
    with pytest.raises(NotFound):
        datastore_info("missing.csv")
    with pytest.raises(NotFound):
        datastore_open("missing.csv")
    with pytest.raises(NotFound):
        datastore_delete("missing.csv")


def test_it_checks_keys_before_asking_the_store():
    with pytest.raises(ValidationFailed):
        save("../escape.csv")


def test_it_refuses_a_file_over_the_limit(s3_server, storage):
    with pytest.raises(TooLarge):
        datastore_save(path="big.bin", fileobj=io.BytesIO(b"xx"), max_bytes=1)
    assert s3_server.keys(storage) == []


def test_it_lists_recursively_by_key_in_pages():
    for key in ("b/2.csv", "a.csv", "b/1.csv", "c/d/3.csv"):
        save(key)

    first = datastore_list(None, limit=2)
    rest = datastore_list(None, after=first.next_after, limit=10)

    assert [i.path for i in first.items] == ["a.csv", "b/1.csv"]
    assert [i.path for i in rest.items] == ["b/2.csv", "c/d/3.csv"]
    assert rest.next_after is None
    assert [i.path for i in datastore_list("b").items] == ["b/1.csv", "b/2.csv"]


def test_it_browses_one_folder_level():
    save("top.csv")
    save("f/inner.csv")
    save("f/g/deep.csv")

    root = datastore_browse(None)
    inner = datastore_browse("f")

    assert root.folders == ["f"] and [f.path for f in root.files] == ["top.csv"]
    assert inner.folders == ["g"] and [f.name for f in inner.files] == ["inner.csv"]
    assert datastore_folder_exists("f/g")
    with pytest.raises(NotFound):
        datastore_browse("nothing")


def test_it_deletes_an_object(s3_server, storage):
    save("f/a.csv")

    datastore_delete("f/a.csv")

    assert s3_server.keys(storage) == []
    assert not datastore_folder_exists("f")


def test_it_opens_an_input_and_stores_an_output():
    save("in/data.csv", b"1,2\n")
    with datastore_open("in/data.csv") as staged:
        content = staged.read()

    key = datastore_store_output(
        path_template="out/{execution_id}.txt",
        source=io.BytesIO(b"done"),
        execution_id="exec-1",
        now=datetime(2026, 12, 1, tzinfo=UTC),
    )

    assert content == b"1,2\n"
    assert key == "out/exec-1.txt"
    with datastore_open(key) as f:
        assert f.read() == b"done"
