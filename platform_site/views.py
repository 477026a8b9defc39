from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from platform_site import health
from platform_site.errors import error_response
from platform_site.metrics import metrics_allowed, metrics_text


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part answers (status ok, or degraded naming what needs an operator); 503 naming the parts that do not (public, no auth)."""
    report = health.check_all()
    return JsonResponse(report, status=503 if report["status"] == "down" else 200)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition (platform_site/metrics.py); operators only."""
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
