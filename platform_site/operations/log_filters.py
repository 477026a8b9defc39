"""Logging filters named in settings.LOGGING."""

from __future__ import annotations

import logging

HEALTHZ_PATH = "/healthz"


class HealthzUnavailable(logging.Filter):
    """Drop django.request's ERROR for a 503 from /healthz: an answer, not a failure.

    /healthz says 503 while a part is not up, which is every start: the launcher
    polls it until 200 (runplatform.announce_when_ready) and the report it
    returns names what is missing. Every other 5xx is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        return not (
            getattr(record, "status_code", None) == 503
            and getattr(request, "path", None) == HEALTHZ_PATH
        )
