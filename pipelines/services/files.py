"""Self-authorising download URLs for a pipeline's uploaded archive.

The official client fetches `signed_url` with a bare GET (no Bearer), so the
URL carries an expiry and an HMAC of (pipeline id, name, expiry) keyed with
SECRET_KEY. Including the id means a URL dies with its pipeline, even if a new
one takes the same name.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from pipelines.models import Pipeline

DOWNLOAD_URL_LIFETIME_S = 15 * 60
SIGNATURE_EXPIRED = "Request has expired"
SIGNATURE_INVALID = "The request signature does not match"


def _signature(*, pipeline: Pipeline, expires: int) -> str:
    message = f"pipeline-archive:{pipeline.id}:{pipeline.name}:{expires}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def pipeline_download_path(*, pipeline: Pipeline, now: float | None = None) -> str:
    """The signed path (with query) of the archive; make it absolute with the request."""
    expires = int((now if now is not None else time.time()) + DOWNLOAD_URL_LIFETIME_S)
    query = urlencode(
        {
            "expires": expires,
            "signature": _signature(pipeline=pipeline, expires=expires),
        }
    )
    path = reverse("pipelines:pipeline_download", kwargs={"name": pipeline.name})
    return f"{path}?{query}"


def pipeline_download_check(
    *, pipeline: Pipeline, expires: str, signature: str, now: float | None = None
) -> str | None:
    """None when the signature is good and fresh; otherwise the reason it is not."""
    try:
        expires_at = int(expires)
    except (TypeError, ValueError):
        return SIGNATURE_INVALID
    expected = _signature(pipeline=pipeline, expires=expires_at)
    if not hmac.compare_digest(expected, signature or ""):
        return SIGNATURE_INVALID
    if expires_at < (now if now is not None else time.time()):
        return SIGNATURE_EXPIRED
    return None
