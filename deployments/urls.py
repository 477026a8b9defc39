from __future__ import annotations

from django.urls import path

from deployments import views

app_name = "deployments"
urlpatterns = [
    path("pipelines/", views.pipeline_list, name="pipeline_list"),
]
