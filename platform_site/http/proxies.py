"""Which peer may speak for the client: forwarded headers only from proxies the operator names.

uvicorn rewrites the client address (X-Forwarded-For) and the scheme
(X-Forwarded-Proto) before Django sees the request; by default it trusts
127.0.0.1, which sandboxed user code and any local process can reach, so a
forged header walked past the sign-in throttle. Here it trusts only
PLATFORM_TRUSTED_PROXIES (none by default: the headers are ignored).
`Forwarded` (RFC 7239) is read by neither uvicorn nor Django.

Django then has one address, REMOTE_ADDR, and client_address is the one
reader of it (django-axes included), so no library reads X-Forwarded-For on
its own (django-ipware would, were it installed).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:  # settings import this module: keep it light
    from django.http import HttpRequest


def trusted_proxies(raw: str, *, name: str = "PLATFORM_TRUSTED_PROXIES") -> list[str]:
    """Comma-separated IP addresses and CIDR networks, normalised; [] when empty."""
    found = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            if "/" in item:
                found.append(str(ipaddress.ip_network(item, strict=False)))
            else:
                found.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must list IP addresses or networks (10.0.0.5, 10.0.0.0/8), "
                f"got {item!r}"
            ) from None
    return found


def uvicorn_proxy_options(proxies: list[str]) -> dict[str, Any]:
    """uvicorn.Config arguments: forwarded headers read only from `proxies`, never when empty.

    Passed even when empty, so uvicorn neither falls back to 127.0.0.1 nor
    reads FORWARDED_ALLOW_IPS from the environment.
    """
    return {"proxy_headers": bool(proxies), "forwarded_allow_ips": list(proxies)}


def client_address(request: HttpRequest) -> str | None:
    """The client's address as the web server established it; None outside a request (a command)."""
    return request.META.get("REMOTE_ADDR") or None
