"""Endpoint tokens: random, stored only encrypted, compared by digest in constant time (endpoint_cache.py).

The official client reads the token back from `get_deployment` (the seeds use
`create_deployment(...)["endpoint_token"]`), so a one-way hash would not do:
the token is encrypted with Fernet under a key derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

# The client appends `?token=<t>` to file URLs without URL-encoding it, so a
# token must be URL-safe as it is.
# A chosen token is only as strong as its length; generated ones have 43 characters.
TOKEN_MIN_LENGTH = 16
TOKEN_PATTERN = re.compile(rf"^[A-Za-z0-9_~.-]{{{TOKEN_MIN_LENGTH},256}}$")
TOKEN_RULE = (
    f"{TOKEN_MIN_LENGTH}-256 URL-safe characters (letters, digits, '-', '_', '.', '~')"
)
HKDF_INFO = b"platform endpoint tokens v1"


def token_generate() -> str:
    return secrets.token_urlsafe(32)


def token_format_error(token: object) -> str | None:
    if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
        got = f" (got {len(token)})" if isinstance(token, str) else ""
        return f"endpoint_token must be {TOKEN_RULE}{got}."
    return None


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=HKDF_INFO).derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def token_encrypt(token: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(token.encode()).decode()


def token_decrypt(encrypted: str | None) -> str | None:
    """The clear token, or None when absent or not readable with this server's key."""
    if not encrypted:
        return None
    try:
        return _fernet(settings.SECRET_KEY).decrypt(encrypted.encode()).decode()
    except (InvalidToken, ValueError):
        return None


def token_digest(raw: str) -> str:
    """What is kept of a token that is never shown again (named tokens; every token in caches)."""
    return hashlib.sha256(raw.encode()).hexdigest()
