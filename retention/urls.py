from __future__ import annotations

from django.urls import path

from retention import views

app_name = "retention"

urlpatterns = [
    path("deployments/<str:name>/pin/", views.deployment_pin, name="deployment_pin"),
]
