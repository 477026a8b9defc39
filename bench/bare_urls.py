"""A bare Django view that computes the bench's function inline: no execution, no worker."""

from __future__ import annotations

import json
import time

from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt


def sleeper(seconds):
    time.sleep(seconds)
    return {"slept": seconds}


@csrf_exempt
def bare(request: HttpRequest, name: str) -> JsonResponse:
    return JsonResponse(
        {"execution_id": "bare", "outputs": sleeper(**json.loads(request.body))}
    )


urlpatterns = [path("endpoints/<str:name>", bare)]
