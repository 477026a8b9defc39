"""Sign-in throttling (django-axes) for the login page and SDK token refresh alike.

Failures are counted per user and per client address; past
AXES_FAILURE_LIMIT within AXES_COOLOFF_TIME both are refused, even with the
right secret, until the cool-off ends or an administrator unlocks them
(`manage.py axes_reset_username <name>`, `manage.py axes_reset_ip <address>`).
For a refresh the "user" is the SDK token's shown prefix (`sdk_AbCdEfGh`).
"""

from __future__ import annotations

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.services import SHOWN_PREFIX_CHARS
from platform_site.http.errors import ApiError, api_error_response

API_PREFIXES = ("/api/", "/endpoints/")


class TooManyAttempts(ApiError):
    status = 429
    name = "TooManyAttempts"


def lockout_message() -> str:
    minutes = max(1, round(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return (
        "Too many failed sign-in attempts for this account or from this address: "
        f"try again in {minutes} minutes, or ask an administrator to unlock it."
    )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict | None = None,
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: JSON 429 for API clients, the login page with the reason for people."""
    if request.path.startswith(API_PREFIXES):
        return api_error_response(TooManyAttempts(lockout_message()))
    context = {
        "form": AuthenticationForm(request),
        "lockout_message": lockout_message(),
    }
    return render(request, "accounts/login.html", context, status=429)


def _refresh_credentials(raw: str) -> dict[str, str]:
    return {"username": raw[:SHOWN_PREFIX_CHARS]}


def refresh_check(request: HttpRequest, raw: str) -> None:
    """TooManyAttempts when this token prefix or this address is locked out."""
    if not AxesProxyHandler.is_allowed(request, _refresh_credentials(raw)):
        raise TooManyAttempts(lockout_message())


def refresh_failed(request: HttpRequest, raw: str) -> None:
    """Count a refused refresh as a failed sign-in (the same counters as the login page)."""
    user_login_failed.send(
        sender=__name__, credentials=_refresh_credentials(raw), request=request
    )
