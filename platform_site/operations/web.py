"""The web process: uvicorn serving platform_site.asgi, with a graceful SIGTERM.

uvicorn alone waits for open requests on SIGTERM, and an endpoint call held
for its result (up to PLATFORM_ENDPOINT_HOLD_S) would outlast the
supervisor's grace and be SIGKILLed with no answer. Here the signal also
starts draining (platform_site/http/draining.py): every held request answers
within about a second, with its execution_id and the result route.

    python -m platform_site.operations.web --host 127.0.0.1 --port 8000
"""

from __future__ import annotations

import argparse
import os

import uvicorn
from django.conf import settings

from platform_site.http.draining import start_draining
from platform_site.http.proxies import uvicorn_proxy_options

GRACEFUL_SHUTDOWN_S = 5


class DrainingServer(uvicorn.Server):
    def handle_exit(self, sig, frame) -> None:
        start_draining()  # one assignment: safe in a signal handler
        super().handle_exit(sig, frame)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "platform_site.settings")
    config = uvicorn.Config(
        # A bench's baseline names Django's stock handler (bench/bare_strict_settings.py).
        getattr(settings, "WEB_ASGI_APPLICATION", "platform_site.asgi:application"),
        host=args.host,
        port=args.port,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        # uvicorn would otherwise trust X-Forwarded-* from 127.0.0.1, where user code runs too.
        **uvicorn_proxy_options(settings.PLATFORM_TRUSTED_PROXIES),
    )
    DrainingServer(config).run()


if __name__ == "__main__":
    main()
