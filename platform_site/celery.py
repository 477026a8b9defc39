from __future__ import annotations

import os

from celery import Celery

from platform_site.clients import redis_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")


redis_broker.use_for_redis_urls()

app = Celery("platform_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
