from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
django_application = get_asgi_application()

from django.conf import settings  # noqa: E402

from platform_site.http.body_limit import BodyLimit  # noqa: E402 - needs settings
from platform_site.http.lean_handler import LeanHandler  # noqa: E402
from platform_site.operations import liveness  # noqa: E402

# Endpoint calls, the hot path, skip the pages' middleware (lean_handler.py).
endpoint_application = LeanHandler(settings.ENDPOINT_MIDDLEWARE)
ENDPOINT_PREFIX = "/endpoints/"


async def by_face(scope, receive, send):
    if scope["type"] == "http" and scope["path"].startswith(ENDPOINT_PREFIX):
        await endpoint_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)


application = BodyLimit(by_face)
liveness.touch_forever()  # only when `make run`'s supervisor watches this process
