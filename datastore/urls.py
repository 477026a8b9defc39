from __future__ import annotations

app_name = "datastore"
urlpatterns: list = []
