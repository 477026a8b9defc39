"""Self-authorising URLs for the client's bare data-store requests (§7.3-7.5).

The client sends no Bearer token to signed URLs, so the URL carries the
authorisation: an HMAC (SECRET_KEY, django.core.signing's TimestampSigner)
over the action (which fixes the HTTP method), the key and the upload part,
checked against a short lifetime.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core import signing
from django.urls import reverse

from platform_site.http.request import public_url

SALT = "datastore.signed-url"
SIGNED_URL_TTL_S = 15 * 60
ACTIONS = ("upload", "part", "download")


class SignatureRefused(Exception):
    """The URL is forged, altered, for another action, or expired."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def signed_url(*, action: str, path: str, **claims: object) -> str:
    """An absolute URL for one action, under PLATFORM_PUBLIC_URL (never the Host header)."""
    assert action in ACTIONS
    token = signing.dumps({"a": action, "p": path, **claims}, salt=SALT)
    url = public_url(reverse(f"datastore:signed_{action}"))
    return f"{url}?{urlencode({'token': token})}"


def verify_token(token: str | None, *, action: str) -> dict:
    """The signed claims ({"p": key, ...}); SignatureRefused when not valid now."""
    if not token:
        raise SignatureRefused("The URL carries no signature.")
    try:
        claims = signing.loads(token, salt=SALT, max_age=SIGNED_URL_TTL_S)
    except signing.SignatureExpired:
        raise SignatureRefused("Request has expired.") from None
    except signing.BadSignature:
        raise SignatureRefused("The request signature does not match.") from None
    if not isinstance(claims, dict) or claims.get("a") != action:
        raise SignatureRefused("The signature is not valid for this request.")
    return claims
