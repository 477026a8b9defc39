"""Typed readers for environment variables; bad values fail loudly at start-up."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


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
    if raw.lower() in TRUE_WORDS:
        return True
    if raw.lower() in FALSE_WORDS:
        return False
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
