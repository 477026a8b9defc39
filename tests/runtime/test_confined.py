"""confined.py: file work below a folder user code writes to never goes through its links."""

from __future__ import annotations

import ctypes
import io
import os
import threading

import pytest

from runtime.confined import (
    Refused,
    chown_tree,
    open_regular_file,
    parts_below,
    write_new_file,
)

RENAME_EXCHANGE = 2
AT_FDCWD = -100


@pytest.fixture
def secret(tmp_path):
    """A file outside the work dir, as the data dir's secret_key."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "out.txt").write_text("SECRET")
    return folder


@pytest.fixture
def work(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    return work


def test_it_reads_a_regular_file_below_the_root(work):
    (work / "a" / "b").mkdir(parents=True)
    (work / "a" / "b" / "out.txt").write_text("ok")

    with open_regular_file(work, "a/b/out.txt") as f:
        relative = f.read()
    with open_regular_file(work, str(work / "a" / "b" / "out.txt")) as f:
        absolute = f.read()

    assert relative == absolute == b"ok"


@pytest.mark.parametrize(
    "path", ["../secrets/out.txt", "/etc/passwd", "a/../../secrets/out.txt", ".", ""]
)
def test_it_refuses_a_path_that_leaves_the_root(work, secret, path):
    with pytest.raises(Refused):
        open_regular_file(work, path)


def test_it_refuses_a_link_as_the_file_or_on_the_way(work, secret):
    os.symlink(secret / "out.txt", work / "link.txt")
    os.symlink(secret, work / "folder")

    with pytest.raises(Refused, match="symbolic link"):
        open_regular_file(work, "link.txt")
    with pytest.raises(Refused, match="symbolic link"):
        open_regular_file(work, "folder/out.txt")


def test_it_refuses_a_fifo_or_a_folder_without_hanging(work):
    os.mkfifo(work / "pipe")
    (work / "dir").mkdir()

    for name in ("pipe", "dir"):
        with pytest.raises(OSError):
            open_regular_file(work, name)


def test_it_refuses_a_root_that_is_itself_a_link(tmp_path, secret):
    os.symlink(secret, tmp_path / "work")
    with pytest.raises(Refused):
        open_regular_file(tmp_path / "work", "out.txt")


def test_a_folder_swapped_for_a_link_never_lets_a_byte_of_it_out(work, secret):
    """The rename race of issue 16: d and l exchanged while we read d/out.txt."""
    (work / "d").mkdir()
    (work / "d" / "out.txt").write_text("harmless")
    os.symlink(secret, work / "l")
    libc = ctypes.CDLL(None, use_errno=True)
    d, link = str(work / "d").encode(), str(work / "l").encode()
    stop = threading.Event()
    swaps = 0

    def swap() -> None:
        nonlocal swaps
        while not stop.is_set():
            libc.renameat2(AT_FDCWD, d, AT_FDCWD, link, RENAME_EXCHANGE)
            swaps += 1

    racer = threading.Thread(target=swap)
    racer.start()
    read, refused = 0, 0
    try:
        for _ in range(3000):
            try:
                with open_regular_file(work, "d/out.txt") as f:
                    assert f.read() == b"harmless"
                read += 1
            except Refused:
                refused += 1
    finally:
        stop.set()
        racer.join()
    assert swaps > 100 and read > 0 and refused > 0


def test_it_writes_a_new_file_making_its_folders(work):
    path = write_new_file(work, ["inputs", "doc", "in.csv"], io.BytesIO(b"1,2"))

    assert path == str(work / "inputs" / "doc" / "in.csv")
    assert (work / "inputs" / "doc" / "in.csv").read_bytes() == b"1,2"


def test_it_never_writes_through_a_planted_link(work, secret):
    victim = secret / "out.txt"
    os.symlink(victim, work / "in.csv")
    (work / "inputs").mkdir()
    os.symlink(secret, work / "inputs" / "doc")

    with pytest.raises(Refused, match="exists already"):
        write_new_file(work, ["in.csv"], io.BytesIO(b"owned"))
    with pytest.raises(Refused, match="symbolic link"):
        write_new_file(work, ["inputs", "doc", "new.csv"], io.BytesIO(b"owned"))

    assert victim.read_text() == "SECRET"
    assert sorted(os.listdir(secret)) == ["out.txt"]


@pytest.mark.parametrize("name", ["..", ".", "a/b", ""])
def test_it_refuses_names_that_are_not_plain(work, name):
    with pytest.raises(Refused):
        write_new_file(work, [name, "x"], io.BytesIO(b""))


@pytest.mark.skipif(os.geteuid() != 0, reason="changing owners needs root")
def test_chown_tree_never_follows_a_link(work, secret):
    (work / "sub").mkdir()
    (work / "sub" / "f").write_text("x")
    os.symlink(secret / "out.txt", work / "sub" / "victim")
    os.symlink(secret, work / "folder")

    chown_tree(work, 54321, 54321)

    for path in (work, work / "sub", work / "sub" / "f"):
        assert path.stat().st_uid == 54321
    assert (work / "sub" / "victim").lstat().st_uid == 54321
    assert (secret / "out.txt").stat().st_uid == 0
    assert secret.stat().st_uid == 0


def test_parts_below_reads_paths_lexically(work):
    assert parts_below(work, "a/./b/../c.txt") == ["a", "c.txt"]
    assert parts_below(work, str(work / "x")) == ["x"]


def test_rmtree_of_a_folder_holding_links_is_safe_here():
    """Work and pod dirs are removed with shutil.rmtree: it must use descriptors here."""
    import shutil

    assert shutil.rmtree.avoids_symlink_attacks


@pytest.mark.skipif(os.geteuid() != 0, reason="handing over needs root")
def test_handing_a_folder_to_the_sandbox_never_gives_away_what_a_link_names(
    tmp_path, secret
):
    """A pod's runs/<id> swapped for a link to a root-owned folder before the hand-over."""
    from runtime.sandbox import Sandbox

    runs = tmp_path / "runs"
    runs.mkdir()
    os.symlink(secret, runs / "planted")
    (runs / "real").mkdir()

    Sandbox().hand_over(str(runs / "real"), "pod:1")
    with pytest.raises(Refused):
        Sandbox().hand_over(str(runs / "planted"), "pod:1")

    assert (runs / "real").stat().st_uid == Sandbox().uid_for("pod:1")
    assert secret.stat().st_uid == 0 and (secret / "out.txt").stat().st_uid == 0
