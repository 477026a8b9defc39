"""Safe extraction of uploaded pipeline archives (tar, tar.gz, zip).

Every member is checked before anything is written (RELIABILITY X1): no
absolute paths, no `..`, no links of any kind, no devices or FIFOs, bounded
member count and total size. Tar files are then extracted with tarfile's
"data" filter (strips setuid bits, refuses what slipped through) and zip
files by our own loop; every target path is resolved and must stay inside the
destination. Framework-free: takes paths, raises ArchiveError.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MAX_TOTAL_BYTES = 100 * 1024 * 1024
MAX_MEMBERS = 10_000
# Long names and pax headers are read whole into memory by tarfile: one
# header, and all of them together, stay small (a 1 MB upload could
# otherwise declare a 1 GiB header and have us allocate it).
MAX_TAR_HEADER_BYTES = 1024 * 1024
MAX_TAR_HEADERS_TOTAL_BYTES = 8 * 1024 * 1024
CHUNK = 1024 * 1024
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class ArchiveError(Exception):
    """The archive is refused; the message is one readable line for the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Member:
    name: str  # normalised relative POSIX path
    is_dir: bool
    size: int
    mode: int


def normalise_name(raw: str) -> str | None:
    """A member name as a clean relative path; None for the root ("", ".", "./").

    Raises ArchiveError for names that could leave the folder.
    """
    if "\x00" in raw or "\\" in raw:
        raise ArchiveError(f"Archive member {raw!r} has a forbidden character")
    if raw.startswith("/"):
        raise ArchiveError(f"Archive member '{raw}' has an absolute path")
    parts = [part for part in PurePosixPath(raw).parts if part != "."]
    if ".." in parts:
        raise ArchiveError(
            f"Archive member '{raw}' would be written outside the pipeline folder"
        )
    if not parts:
        return None
    return "/".join(parts)


def _human(size: int) -> str:
    return f"{size / (1024 * 1024):.0f} MB"


class _Budget:
    def __init__(self, max_bytes: int, max_members: int):
        self.max_bytes = max_bytes
        self.max_members = max_members
        self.bytes = 0
        self.members = 0

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.max_members:
            raise ArchiveError(
                f"Archive has more than {self.max_members} members; refusing to extract it"
            )

    def count_bytes(self, size: int) -> None:
        self.bytes += max(size, 0)
        if self.bytes > self.max_bytes:
            raise ArchiveError(
                f"Archive content is larger than {_human(self.max_bytes)}; refusing to extract it"
            )


def _inside(dest: Path, name: str) -> Path:
    """The resolved target of `name`; ArchiveError unless it stays inside dest."""
    target = (dest / name).resolve()
    if target != dest and not target.is_relative_to(dest):
        raise ArchiveError(
            f"Archive member '{name}' would be written outside the pipeline folder"
        )
    return target


def is_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) in ZIP_MAGIC


def extract_archive(
    archive: Path,
    dest: Path,
    *,
    max_bytes: int = MAX_TOTAL_BYTES,
    max_members: int = MAX_MEMBERS,
) -> list[str]:
    """Extract `archive` into the new folder `dest`; return the file names written.

    On any refusal nothing is left behind: `dest` is removed.
    """
    dest.mkdir(parents=True, exist_ok=False)
    dest = dest.resolve()
    budget = _Budget(max_bytes, max_members)
    try:
        if is_zip(archive):
            return _extract_zip(archive, dest, budget)
        return _extract_tar(archive, dest, budget)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


# -- tar -----------------------------------------------------------------


def _check_tar_member(info: tarfile.TarInfo) -> str | None:
    name = normalise_name(info.name)
    if info.issym() or info.islnk():
        raise ArchiveError(
            f"Archive member '{info.name}' is a link; links are not allowed"
        )
    if not (info.isreg() or info.isdir()):
        raise ArchiveError(
            f"Archive member '{info.name}' is a device or special file; only files and folders are allowed"
        )
    return name


class _BoundedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses oversized extended headers before tarfile reads them."""

    EXTENDED = (
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    )

    def _proc_member(self, tar):
        if self.type in self.EXTENDED:
            seen = getattr(tar, "_extended_header_bytes", 0) + self.size
            tar._extended_header_bytes = seen
            if self.size > MAX_TAR_HEADER_BYTES or seen > MAX_TAR_HEADERS_TOTAL_BYTES:
                raise ArchiveError(
                    f"The archive has an extended header of {self.size} bytes "
                    f"(at most {MAX_TAR_HEADER_BYTES} bytes each, "
                    f"{MAX_TAR_HEADERS_TOTAL_BYTES} in all); refusing to extract it"
                )
        return super()._proc_member(tar)


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> list[str]:
    try:
        # Closed by `with tar` below.
        tar = tarfile.open(archive, mode="r:*", tarinfo=_BoundedTarInfo)  # noqa: SIM115
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(
            f"The uploaded file is not a tar or zip archive ({exc})"
        ) from None
    with tar:
        accepted: dict[str, tarfile.TarInfo] = {}
        try:
            # Streamed: a bomb of headers stops at the member limit.
            for info in tar:
                budget.count_member()
                name = _check_tar_member(info)
                if name is None:
                    continue
                budget.count_bytes(info.size if info.isreg() else 0)
                _inside(dest, name)
                # Duplicates are tolerated: the last one wins, as tar itself does.
                accepted.pop(name, None)
                accepted[name] = info.replace(name=name, deep=False)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ArchiveError(f"The archive is damaged ({exc})") from None
        files: list[str] = []
        for name, info in accepted.items():
            _inside(dest, name)
            try:
                # "data" refuses links out, absolute paths and devices again and
                # clears setuid/setgid/sticky bits and group/other write.
                tar.extract(info, path=dest, filter="data", set_attrs=True)
            except tarfile.FilterError as exc:
                raise ArchiveError(
                    f"Archive member '{name}' was refused: {exc}"
                ) from None
            except (tarfile.TarError, EOFError, OSError) as exc:
                raise ArchiveError(
                    f"Archive member '{name}' could not be extracted ({exc})"
                ) from None
            if info.isreg():
                files.append(name)
        return files


# -- zip -----------------------------------------------------------------


def _check_zip_member(info: zipfile.ZipInfo) -> str | None:
    name = normalise_name(info.filename)
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise ArchiveError(
            f"Archive member '{info.filename}' is a link; links are not allowed"
        )
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError(
            f"Archive member '{info.filename}' is a device or special file; only files and folders are allowed"
        )
    if info.flag_bits & 0x1:
        raise ArchiveError(f"Archive member '{info.filename}' is encrypted")
    return name


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> list[str]:
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(
            f"The uploaded file is not a valid zip archive ({exc})"
        ) from None
    with zf:
        infos = zf.infolist()
        accepted: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            budget.count_member()
            name = _check_zip_member(info)
            if name is None:
                continue
            # Header sizes may lie (zip bombs); bytes are counted again on write.
            budget.count_bytes(0 if info.is_dir() else info.file_size)
            _inside(dest, name)
            accepted.pop(name, None)
            accepted[name] = info
        written = _Budget(budget.max_bytes, budget.max_members)
        files: list[str] = []
        for name, info in accepted.items():
            target = _inside(dest, name)
            try:
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                _inside(dest, str(target.parent.relative_to(dest)))
                _write_zip_member(zf, info, target, written)
            except ArchiveError:
                raise
            except (zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
                raise ArchiveError(
                    f"Archive member '{name}' could not be extracted ({exc})"
                ) from None
            files.append(name)
        return files


def _write_zip_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, written: _Budget
) -> None:
    executable = bool((info.external_attr >> 16) & 0o111)
    mode = 0o755 if executable else 0o644
    if target.is_dir():
        raise ArchiveError(f"Archive member '{info.filename}' clashes with a folder")
    # O_NOFOLLOW: never write through a link, even one that appeared meanwhile.
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as out, zf.open(info) as src:
        while chunk := src.read(CHUNK):
            written.count_bytes(len(chunk))
            out.write(chunk)
