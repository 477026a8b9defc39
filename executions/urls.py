from __future__ import annotations

from django.urls import path

from executions.replays import views as replays
from executions.views import executions, runs, variables

app_name = "executions"
urlpatterns = [
    # Before executions/<execution_id>/: "compare" is not an execution id.
    path("executions/compare/", replays.executions_compare, name="compare"),
    path(
        "executions/<str:execution_id>/run-again/",
        replays.execution_run_again,
        name="run_again",
    ),
    path("executions/", executions.execution_list, name="execution_list"),
    path(
        "executions/<str:execution_id>/",
        executions.execution_detail,
        name="execution_detail",
    ),
    path(
        "executions/<str:execution_id>/logs/",
        executions.execution_logs,
        name="execution_logs",
    ),
    path(
        "executions/<str:execution_id>/logs.txt",
        executions.execution_logs_text,
        name="execution_logs_text",
    ),
    path(
        "executions/<str:execution_id>/delete/",
        executions.execution_delete,
        name="execution_delete",
    ),
    path(
        "executions/<str:execution_id>/<str:direction>/<str:name>/file/",
        executions.execution_file,
        name="execution_file",
    ),
    path("pipelines/<str:name>/run/", runs.pipeline_run, name="pipeline_run"),
    path("environment-variables/", variables.variable_list, name="variable_list"),
    path(
        "environment-variables/<str:name>/delete/",
        variables.variable_delete,
        name="variable_delete",
    ),
]
