"""Values every template may use."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def public_url(request: HttpRequest) -> dict[str, str]:
    """The platform's own address (PLATFORM_PUBLIC_URL) for snippets shown to users."""
    return {"public_url": settings.PUBLIC_URL}
