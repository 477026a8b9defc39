"""Typed readers for environment variables; bad values fail loudly at start-up."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from platform_site.http.units import boolean_word


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = boolean_word(raw)
    if value is not None:
        return value
    raise ImproperlyConfigured(f"{name} must be true or false, got {raw!r}")


def envurl(name: str, default: str) -> str:
    """An absolute http(s) URL without a trailing slash."""
    raw = os.environ.get(name) or default
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name} must be an absolute http(s) URL such as "
            f"http://platform.example.org, got {raw!r}"
        )
    return raw.rstrip("/")


def local_url(host: str, port: int) -> str:
    """The URL `make run` prints: a wildcard bind is reached through 127.0.0.1."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:  # an IPv6 address
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]


def url_host_names(url: str) -> list[str]:
    """ALLOWED_HOSTS for a public URL: its host, plus the loopback names."""
    host = urlsplit(url).hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return [host, *(name for name in LOOPBACK_HOSTS if name != host)]


def persistent_secret(path: Path) -> str:
    """Read a secret kept in the data dir, creating it on first start.

    Signed JWTs and encrypted endpoint tokens must survive restarts, so a
    generated key is written once and reused. Several processes may start at
    once on a fresh data dir: the key is written whole to a private file and
    linked into place, so every process reads the one key that won.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(50))
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process won the race: use its key
    finally:
        draft.unlink()
    return path.read_text().strip()


# The commands that may make a data dir: the platform's own start (`make run`)
# and migrate. Any other management command run without the platform's
# PLATFORM_DATA_DIR would start a second, empty platform beside it (a new
# secret key, a database without tables) and fail on its first query.
DATA_DIR_CREATORS = frozenset({"runplatform", "migrate"})
DATA_DIR_MISSING = (
    "No data dir at {path}: `manage.py {command}` does not create one, or it would "
    "work on a second, empty platform. Run it with the PLATFORM_DATA_DIR the platform "
    "runs with (`make run` prints it: 'data dir ...'), e.g. "
    "PLATFORM_DATA_DIR=/path/to/data .venv/bin/python manage.py {command} ..., "
    "or start the platform once with `make run` to create {path}."
)


def data_dir_prepare(path: Path, argv: list[str]) -> None:
    """Create the data dir, unless a management command outside DATA_DIR_CREATORS asks.

    That command stops (SystemExit: its message, no traceback) naming
    PLATFORM_DATA_DIR. `argv` is sys.argv: web servers, workers and pytest are
    not management commands and create it as before.
    """
    if path.is_dir():
        return
    command = argv[1] if len(argv) > 1 and Path(argv[0]).name == "manage.py" else None
    if command is not None and command not in DATA_DIR_CREATORS:
        raise SystemExit(DATA_DIR_MISSING.format(path=path, command=command))
    path.mkdir(parents=True, exist_ok=True)
