from __future__ import annotations

from django.urls import path

from pipelines.views import pipelines

app_name = "pipelines"
urlpatterns = [
    path("pipelines/", pipelines.pipeline_list, name="pipeline_list"),
    # Before <name>/: "new" is the form, not a pipeline.
    path("pipelines/new/", pipelines.pipeline_create_view, name="pipeline_create"),
    path("pipelines/new/row", pipelines.pipeline_io_row, name="pipeline_io_row"),
    path("pipelines/<str:name>/", pipelines.pipeline_detail, name="pipeline_detail"),
    path("pipelines/<str:name>/logs", pipelines.pipeline_logs, name="pipeline_logs"),
    path(
        "pipelines/<str:name>/delete",
        pipelines.pipeline_delete_view,
        name="pipeline_delete",
    ),
    path("pipelines/<str:name>/code", pipelines.pipeline_code, name="pipeline_code"),
    # Signed, login-free: the official client downloads it with a bare GET.
    path(
        "files/pipelines/<str:name>/archive",
        pipelines.pipeline_download,
        name="pipeline_download",
    ),
]
