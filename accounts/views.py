from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from accounts.auth import metrics_allowed
from accounts.models import SdkToken
from accounts.services import sdk_token_create, sdk_token_revoke
from platform_site.http.errors import error_response
from platform_site.http.request import HtmxHttpRequest
from platform_site.operations.metrics import metrics_text


def _tokens_context(request: HtmxHttpRequest, **extra) -> dict:
    return {"tokens": SdkToken.objects.filter(user=request.user), **extra}


@login_required
@never_cache
def settings_page(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "accounts/settings.html", _tokens_context(request))


@login_required
@require_POST
@never_cache  # shows a new SDK token once
def token_create(request: HtmxHttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip() or "SDK token"
    issued = sdk_token_create(user=request.user, name=name)
    template = (
        "accounts/settings.html#tokens" if request.htmx else "accounts/settings.html"
    )
    return render(
        request,
        template,
        _tokens_context(
            request, new_token=issued.raw, new_token_name=issued.token.name
        ),
    )


@login_required
@require_POST
@never_cache
def token_revoke(request: HtmxHttpRequest, token_id) -> HttpResponse:
    token = get_object_or_404(SdkToken, pk=token_id, user=request.user)
    sdk_token_revoke(token=token)
    template = (
        "accounts/settings.html#tokens" if request.htmx else "accounts/settings.html"
    )
    return render(request, template, _tokens_context(request))


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition (platform_site/operations/metrics.py): operators only (a staff token or PLATFORM_METRICS_TOKEN)."""
    if not metrics_allowed(request):
        response = error_response(
            "Send 'Authorization: Bearer <token>': a staff user's access token "
            "or PLATFORM_METRICS_TOKEN.",
            status=401,
            name="Unauthorized",
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    body, content_type = metrics_text()
    return HttpResponse(body, content_type=content_type)
