"""The sandbox every piece of user code runs in, from settings: pipeline builds, zygotes, pods."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

from runtime import sandbox_network
from runtime.sandbox import Sandbox

# Zygotes and builds start user code: they get the same scrubbed environment as executions.
ZYGOTE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def get_sandbox() -> Sandbox | None:
    """The configured sandbox, or None when PLATFORM_SANDBOX=off."""
    if not settings.SANDBOX_ENABLED:
        return None
    return Sandbox(
        # egress falls back to none where slirp4netns is missing (said at startup).
        network=sandbox_network.effective_mode(settings.SANDBOX_NETWORK),
        forward=platform_port_forward(settings.PUBLIC_URL),
        max_processes=settings.SANDBOX_MAX_PROCESSES,
        tmp_mib=settings.SANDBOX_TMP_MIB,
        uid_base=settings.SANDBOX_UID_BASE,
    )


def platform_port_forward(public_url: str) -> tuple[tuple[str, int], ...]:
    """The platform's (address, port) that executions must reach when its URL is on the host's loopback.

    Executions call the API at PUBLIC_URL (pipeline metrics); in egress mode
    the host's loopback is out of their reach but for this one port. Any
    other URL is reached through egress like any outside address.
    """
    parts = urlsplit(public_url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return ()
    if host == "localhost":
        return (("127.0.0.1", port),)
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return ()
    return ((host, port),) if loopback else ()
