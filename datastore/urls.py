from __future__ import annotations

from django.urls import path

from datastore import signed_views, views

app_name = "datastore"
urlpatterns = [
    path("data-store/", views.browse, name="browse"),
    path("data-store/upload", views.upload, name="upload"),
    path("data-store/download", views.download, name="download"),
    path("data-store/delete", views.delete, name="delete"),
    # Signed URLs handed to the SDK: self-authorising, no session, XML errors.
    path("data-store/signed/upload", signed_views.upload, name="signed_upload"),
    path("data-store/signed/part", signed_views.part, name="signed_part"),
    path("data-store/signed/download", signed_views.download, name="signed_download"),
]
