from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from platform_site import health


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("deployments:pipeline_list")


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when every part answers; 503 naming the parts that do not (public, no auth)."""
    report = health.check_all()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
