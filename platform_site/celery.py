from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

from platform_site import redis_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")


redis_broker.use_for_redis_urls()

app = Celery("platform_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def start_worker_heartbeat(**kwargs) -> None:
    """/healthz reports the worker as up while this beats."""
    import contextlib
    import threading
    import time

    from executions.worker import lease_beater, stop_watcher
    from platform_site import health, liveness

    def loop() -> None:
        while True:
            # The broker may be briefly away; keep beating.
            with contextlib.suppress(Exception):
                health.beat("worker")
            time.sleep(5)

    threading.Thread(target=loop, name="worker-heartbeat", daemon=True).start()
    liveness.touch_forever()
    stop_watcher()
    lease_beater()
