"""File work in folders that user code can write to, never through its links.

User code runs as another uid in the same folders as the platform (an
execution's work dir, a pod dir): between two of our system calls it can
plant a symlink or swap a folder for one (`renameat2(RENAME_EXCHANGE)`). So
nothing here resolves a path, checks it and opens it again: every path below
such a root is reached from a descriptor of the root, one component at a
time, with O_NOFOLLOW. A link anywhere on the way is refused, never followed.

Standard library only; never imports Django.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import BinaryIO

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO planted as an output must not hang us in open().
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# O_EXCL: a name user code made first (a link, a file) is refused, not reused.
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Refused(OSError):
    """The path leaves its root, crosses a link or is not what it must be; the message says which."""


def parts_below(root: str | os.PathLike, path: str | os.PathLike) -> list[str]:
    """The components of `path` below `root`, read lexically (no file system access).

    `path` may be relative (to root) or absolute; it must name something
    strictly inside root once `.` and `..` are folded.
    """
    root = os.path.normpath(os.fspath(root))
    full = os.path.normpath(os.path.join(root, os.fspath(path)))
    if full == root or os.path.commonpath([root, full]) != root:
        raise Refused(f"{os.fspath(path)!s} is not inside {root}")
    return os.path.relpath(full, root).split(os.sep)


@contextmanager
def opened_dir(
    root: str | os.PathLike, parts: Sequence[str] = (), *, create: bool = False
) -> Iterator[int]:
    """A descriptor of root/parts[0]/parts[1]/..., walked without following links.

    The root's own last component must not be a link either. With `create`,
    missing folders are made (0755; an existing folder is used as it is).
    """
    fd = _open_dir(os.fspath(root), None)
    try:
        for name in parts:
            _check_name(name)
            if create:
                with suppress(FileExistsError):
                    os.mkdir(name, 0o755, dir_fd=fd)
            next_fd = _open_dir(name, fd)
            os.close(fd)
            fd = next_fd
        yield fd
    finally:
        os.close(fd)


def open_regular_file(root: str | os.PathLike, path: str | os.PathLike) -> BinaryIO:
    """`path` (below root) opened for reading, if it is a regular file reached without links.

    Refused (an OSError) otherwise: a link, a folder, a FIFO, a path outside root.
    """
    parts = parts_below(root, path)
    with opened_dir(root, parts[:-1]) as dir_fd:
        try:
            fd = os.open(parts[-1], READ_FLAGS, dir_fd=dir_fd)
        except OSError as exc:
            raise _refusal(exc, path) from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused(f"{os.fspath(path)} is not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def write_new_file(
    root: str | os.PathLike, parts: Sequence[str], source: BinaryIO
) -> str:
    """Copy `source` into a new file root/parts..., making the folders; its path.

    The file must not exist yet (O_EXCL): whatever user code planted under
    that name is refused, never written through.
    """
    *folders, name = parts
    _check_name(name)
    with opened_dir(root, folders, create=True) as dir_fd:
        try:
            fd = os.open(name, CREATE_FLAGS, 0o644, dir_fd=dir_fd)
        except OSError as exc:
            raise _refusal(exc, os.path.join(*parts)) from None
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(source, out)
    return os.path.join(os.fspath(root), *parts)


def chown_tree(path: str | os.PathLike, uid: int, gid: int) -> None:
    """Give a folder and everything in it to uid:gid, never following a link.

    os.fwalk walks by descriptors and, like the chowns, does not follow
    links, so a folder swapped for a link mid-walk cannot redirect it.
    """
    with opened_dir(path) as top:
        os.fchown(top, uid, gid)
        for _, dirs, files, dir_fd in os.fwalk(".", dir_fd=top):
            for name in dirs + files:
                with suppress(FileNotFoundError):  # removed meanwhile
                    os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


def _open_dir(name: str, dir_fd: int | None) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _refusal(exc, name) from None


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\0" in name:
        raise Refused(f"{name!r} is not a plain file name")


def _refusal(exc: OSError, path) -> OSError:
    """ELOOP/ENOTDIR mean a link (or a file) stood where a folder or file was expected."""
    if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
        return Refused(f"{os.fspath(path)} is or crosses a symbolic link")
    if exc.errno == errno.EEXIST:
        return Refused(f"{os.fspath(path)} exists already")
    return exc
