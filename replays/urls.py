from __future__ import annotations

from django.urls import path

from replays import views

app_name = "replays"

# Included before executions.urls: "compare" would otherwise read as an execution id.
urlpatterns = [
    path("executions/compare/", views.executions_compare, name="compare"),
    path(
        "executions/<str:execution_id>/run-again/",
        views.execution_run_again,
        name="run_again",
    ),
]
