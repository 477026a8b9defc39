from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from platform_site.operations import health


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part answers (status ok, or degraded naming what needs an operator); 503 naming the parts that do not (public, no auth)."""
    report = health.check_all()
    return JsonResponse(report, status=503 if report["status"] == "down" else 200)
