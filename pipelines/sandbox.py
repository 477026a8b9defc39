"""The sandbox every piece of user code runs in, from settings: pipeline builds, zygotes, pods."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

from runtime import cgroups, sandbox_network
from runtime.sandbox import Sandbox

SANDBOX_OFF_WARNING = (
    "PLATFORM_SANDBOX=off: user code runs unsandboxed, as the worker's own user, "
    "and can read the platform's secrets. Only for a development machine."
)
SANDBOX_HOST_NETWORK_WARNING = (
    "PLATFORM_SANDBOX_NETWORK=host: user code shares the host's network and "
    "reaches every service on its loopback (PostgreSQL, Redis, the platform "
    "itself). Only where each of them requires a password; egress is the default."
)

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


def sandbox_network_mode() -> str:
    """The network sandboxes get here (egress falls back to none without its tool)."""
    return sandbox_network.effective_mode(settings.SANDBOX_NETWORK)


def sandbox_network_warnings() -> list[str]:
    """What startup and /healthz say of the sandbox's network: host mode, or egress unavailable."""
    if not settings.SANDBOX_ENABLED:
        return []
    if settings.SANDBOX_NETWORK == sandbox_network.HOST:
        return [SANDBOX_HOST_NETWORK_WARNING]
    if settings.SANDBOX_NETWORK == sandbox_network.EGRESS:
        problem = sandbox_network.tool_problem()
        return [problem] if problem else []
    return []


CGROUPS_OFF_WARNING = (
    "PLATFORM_CGROUPS=off: memory and process limits are per process, and what "
    "an execution starts with setsid can outlive it."
)


def cgroups_state() -> tuple[str, str | None]:
    """(what /healthz says of the kernel grouping of user processes, its warning or None)."""
    if not settings.CGROUPS_ENABLED:
        return "off", CGROUPS_OFF_WARNING
    return cgroups.probe(), cgroups.warning()


def cgroups_line() -> str:
    """The startup line on the kernel grouping of user processes (a WARNING where there is none)."""
    state, warning = cgroups_state()
    return f"WARNING: {warning}" if warning else state


def sandbox_report(report: dict) -> None:
    """/healthz's word on the sandbox: on or off, its network, the cgroups, and warnings.

    A cgroup per execution and per pod is what makes limits count every
    process and kills what an execution left behind.
    """
    report["sandbox"] = "on" if settings.SANDBOX_ENABLED else "off"
    report["cgroups"], cgroups_warning = cgroups_state()
    warnings = report.setdefault("warnings", [])
    if not settings.SANDBOX_ENABLED:
        warnings.append(SANDBOX_OFF_WARNING)
    else:
        report["sandbox_network"] = sandbox_network_mode()
        warnings.extend(sandbox_network_warnings())
    if cgroups_warning:
        warnings.append(cgroups_warning)
    if not warnings:
        del report["warnings"]


def sandbox_startup_lines() -> list[str]:
    """What `make run` says of the sandbox before starting workers (only they run user code).

    Raises SandboxUnavailable when user code cannot be sandboxed and
    PLATFORM_SANDBOX=off was not said.
    """
    lines = [cgroups_line()]
    if not settings.SANDBOX_ENABLED:
        # Three times: hard to miss in a scrolling log.
        return lines + [f"WARNING: {SANDBOX_OFF_WARNING}"] * 3
    sandbox = get_sandbox()
    assert sandbox is not None
    sandbox.check()
    for warning in sandbox_network_warnings():
        lines += [f"WARNING: {warning}"] * (3 if sandbox.network == "host" else 1)
    network = sandbox_network_mode()
    if sandbox.forward and network == "egress":
        ports = ", ".join(str(port) for _, port in sandbox.forward)
        network += f"; the platform's port {ports} forwarded from loopback"
    lines.append(
        f"user code runs in the bubblewrap sandbox ({sandbox.bwrap}; network: {network})"
    )
    return lines
