"""RELIABILITY X1: every hostile archive is refused and nothing lands outside the target."""

from __future__ import annotations

import gzip
import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from pipelines.archives import ArchiveError, extract_archive, normalise_name


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, content in members:
            if content is not None:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
            else:
                tar.addfile(info)
    return path


def file_member(name: str, content: bytes = b"x = 1\n", mode: int = 0o644):
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, content


def link_member(name: str, target: str, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def snapshot(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def sandbox(tmp_path):
    """A parent folder whose only allowed change is inside sandbox/'dest'."""
    root = tmp_path / "sandbox"
    root.mkdir()
    (root / "keep.txt").write_text("untouched")
    return root


def assert_refused(archive: Path, sandbox: Path, **limits) -> str:
    before = snapshot(sandbox) | snapshot(archive.parent)
    with pytest.raises(ArchiveError) as caught:
        extract_archive(archive, sandbox / "dest", **limits)
    after = snapshot(sandbox) | snapshot(archive.parent)
    assert after == before  # the half-written target is removed too
    assert (sandbox / "keep.txt").read_text() == "untouched"
    return caught.value.message


def test_it_extracts_an_sdk_style_archive(tmp_path, sandbox):
    archive = make_tar(
        tmp_path / "a.tgz",
        [
            (tarfile.TarInfo(""), None),
            file_member("src/main.py", b"def f():\n    return {}\n"),
            file_member("./src/util.py"),
            file_member("src/main.py", b"def f():\n    return {'v': 2}\n"),
        ],
    )

    files = extract_archive(archive, sandbox / "dest")

    assert sorted(files) == ["src/main.py", "src/util.py"]
    assert "'v': 2" in (sandbox / "dest/src/main.py").read_text()


def test_it_refuses_dot_dot(tmp_path, sandbox):
    archive = make_tar(tmp_path / "a.tgz", [file_member("../evil", b"boom")])

    message = assert_refused(archive, sandbox)

    assert (
        message
        == "Archive member '../evil' would be written outside the pipeline folder"
    )
    assert not (sandbox.parent / "evil").exists()


def test_it_refuses_deep_dot_dot(tmp_path, sandbox):
    archive = make_tar(tmp_path / "a.tgz", [file_member("src/../../../etc/x")])

    assert "outside the pipeline folder" in assert_refused(archive, sandbox)


def test_it_refuses_absolute_paths(tmp_path, sandbox):
    target = tmp_path / "abs-evil"
    archive = make_tar(tmp_path / "a.tgz", [file_member(str(target))])

    assert "absolute path" in assert_refused(archive, sandbox)
    assert not target.exists()


def test_it_refuses_a_symlink_out(tmp_path, sandbox):
    archive = make_tar(tmp_path / "a.tgz", [link_member("out", str(tmp_path))])

    assert "is a link" in assert_refused(archive, sandbox)


def test_it_refuses_a_symlink_then_a_file_through_it(tmp_path, sandbox):
    archive = make_tar(
        tmp_path / "a.tgz",
        [link_member("escape", ".."), file_member("escape/evil", b"boom")],
    )

    assert_refused(archive, sandbox)
    assert not (sandbox / "evil").exists()


def test_it_refuses_a_symlink_inside_the_folder_too(tmp_path, sandbox):
    archive = make_tar(
        tmp_path / "a.tgz", [file_member("a.py"), link_member("b.py", "a.py")]
    )

    assert "links are not allowed" in assert_refused(archive, sandbox)


def test_it_refuses_hardlinks(tmp_path, sandbox):
    archive = make_tar(
        tmp_path / "a.tgz",
        [
            link_member("sym", "/etc/passwd"),
            link_member("hard", "sym", tarfile.LNKTYPE),
        ],
    )

    assert "is a link" in assert_refused(archive, sandbox)


def test_it_refuses_empty_name_symlink_chains(tmp_path, sandbox):
    archive = make_tar(
        tmp_path / "a.tgz", [link_member("", ".."), file_member("x", b"boom")]
    )

    assert "is a link" in assert_refused(archive, sandbox)


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_it_refuses_devices_and_fifos(tmp_path, sandbox, kind):
    info = tarfile.TarInfo("dev")
    info.type = kind
    archive = make_tar(tmp_path / "a.tgz", [(info, None)])

    assert "device or special file" in assert_refused(archive, sandbox)


def test_it_strips_setuid_bits(tmp_path, sandbox):
    archive = make_tar(
        tmp_path / "a.tgz", [file_member("run.sh", b"#!/bin/sh\n", 0o6777)]
    )

    extract_archive(archive, sandbox / "dest")

    mode = os.stat(sandbox / "dest/run.sh").st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH)


def test_it_refuses_a_huge_member_count(tmp_path, sandbox):
    archive = make_tar(
        tmp_path / "a.tgz", [file_member(f"f{i}.py", b"") for i in range(30)]
    )

    assert "more than 20 members" in assert_refused(archive, sandbox, max_members=20)


def test_it_refuses_oversized_content(tmp_path, sandbox):
    archive = make_tar(tmp_path / "a.tgz", [file_member("big.bin", b"0" * 5000)])

    assert "larger than" in assert_refused(archive, sandbox, max_bytes=4096)


def test_it_refuses_garbage(tmp_path, sandbox):
    archive = tmp_path / "a.tgz"
    archive.write_bytes(b"this is not an archive")

    assert "not a tar or zip archive" in assert_refused(archive, sandbox)


def test_it_extracts_a_zip(tmp_path, sandbox):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("src/main.py", "def f():\n    return {}\n")
        zf.writestr("src/", "")

    assert extract_archive(archive, sandbox / "dest") == ["src/main.py"]
    assert (sandbox / "dest/src/main.py").is_file()


def test_it_refuses_zip_dot_dot(tmp_path, sandbox):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../evil", "boom")

    assert "outside the pipeline folder" in assert_refused(archive, sandbox)


def test_it_refuses_zip_symlinks(tmp_path, sandbox):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")

    assert "is a link" in assert_refused(archive, sandbox)


def test_it_refuses_a_zip_bomb(tmp_path, sandbox):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("bomb.bin", b"\0" * 200_000)

    assert "larger than" in assert_refused(archive, sandbox, max_bytes=100_000)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("./src/m.py", "src/m.py"),
        ("", None),
        (".", None),
        ("./", None),
        ("a//b", "a/b"),
    ],
)
def test_it_normalises_names(raw, expected):
    assert normalise_name(raw) == expected


@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_a_huge_extended_header_is_refused_before_it_is_read(tmp_path, kind):
    """A 64 KB upload declaring a 1 GiB pax (or GNU long name) header: refused, nothing allocated."""
    header = tarfile.TarInfo("huge")
    header.type = kind
    header.size = 1 << 30
    raw = header._create_header(
        header.get_info(), tarfile.USTAR_FORMAT, "utf-8", "surrogateescape"
    )
    archive = tmp_path / "bomb.tar.gz"
    with gzip.open(archive, "wb") as gz:
        gz.write(raw)
        for _ in range(64):
            gz.write(b"0" * (1 << 20))
    assert archive.stat().st_size < 1 << 20
    with pytest.raises(ArchiveError, match="extended header of 1073741824 bytes"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()
