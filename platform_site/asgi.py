from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
django_application = get_asgi_application()

from platform_site.http.body_limit import BodyLimit  # noqa: E402 - needs settings
from platform_site.operations import liveness  # noqa: E402

application = BodyLimit(django_application)
liveness.touch_forever()  # only when `make run`'s supervisor watches this process
