"""The home page: what runs now, what failed lately, which deployments are degraded."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from deployments.overview import platform_overview
from executions.selectors import DEGRADED_ERROR_RATE
from platform_site.http.request import HtmxHttpRequest
from platform_site.operations import health


@login_required
@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:
    """The overview; its panel polls this view every 5 s (#overview) while visible."""
    context = {
        "overview": platform_overview(now=timezone.now()),
        "platform": health.check_all(),
        "degraded_rate": int(DEGRADED_ERROR_RATE * 100),
    }
    template = "deployments/home.html"
    if request.htmx and not request.htmx.boosted:
        template += "#overview"
    return render(request, template, context)
