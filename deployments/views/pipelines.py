from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from deployments.models import Pipeline
from platform_site.http import HtmxHttpRequest


@login_required
def pipeline_list(request: HtmxHttpRequest) -> HttpResponse:
    return render(
        request, "deployments/pipeline_list.html", {"pipelines": Pipeline.objects.all()}
    )
