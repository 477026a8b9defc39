"""Django's own ASGI handler, as `django-admin startproject` sets it up: the strict baseline's server.

Not platform_site.asgi, whose /endpoints/ face is the platform's own lean
handler (platform_site/http/lean_handler.py): the hot path is measured
against Django as a user gets it, not against its own optimisations.
"""

from __future__ import annotations

from django.core.asgi import get_asgi_application

application = get_asgi_application()
