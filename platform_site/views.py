from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from platform_site import health


def home(request: HttpRequest) -> HttpResponse:
    return redirect("deployments:pipeline_list")


def healthz(request: HttpRequest) -> JsonResponse:
    report = health.check_all()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)
