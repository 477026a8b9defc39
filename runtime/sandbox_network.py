"""The sandbox's network: none, the host's, or its own namespace with egress only (PLATFORM_SANDBOX_NETWORK).

As rootless container engines do, an egress sandbox gets a network namespace of
its own (bwrap --unshare-net) connected to the outside by Debian's
`slirp4netns` (user-mode networking, like QEMU's): TCP and UDP leave through
sockets of the host, so functions and `pip install` reach the internet, while
`--disable-host-loopback` keeps the host's 127.0.0.1 (PostgreSQL, Redis, the
platform) out of reach. DNS inside goes to slirp4netns's resolver (10.0.2.3),
which asks the host's.

This module says which mode a sandbox gets here (egress falls back to none
where slirp4netns or /dev/net/tun is missing); sandbox_egress.py starts an
egress sandbox, sandbox_forward.py relays the platform's own port into it.

Standard library only; never imports Django.
"""

from __future__ import annotations

import os
import shutil

EGRESS, NONE, HOST = "egress", "none", "host"
MODES = (EGRESS, NONE, HOST)
TOOL = "slirp4netns"
TOOL_PACKAGE = "slirp4netns"  # Debian/Ubuntu (and Fedora) package name
TUN_DEVICE = "/dev/net/tun"
DNS_ADDRESS = "10.0.2.3"  # slirp4netns's resolver, as seen from inside
# Written over /etc/resolv.conf inside (the host's may name a loopback resolver).
RESOLV_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "resolv.conf")
READY_TIMEOUT_S = 10.0


class NetworkUnavailable(OSError):
    """The sandbox's network could not be set up; the sandbox was killed."""


def tool_problem() -> str | None:
    """Why egress cannot be had on this machine (None: it can), naming what to install."""
    if tool_path() is None:
        return (
            f"{TOOL} was not found: sandboxed user code gets no network "
            f"(PLATFORM_SANDBOX_NETWORK=none). Install the Debian/Ubuntu package "
            f"{TOOL_PACKAGE} (apt-get install {TOOL_PACKAGE}) to give it egress "
            "to the internet without the host's loopback"
        )
    if not os.access(TUN_DEVICE, os.R_OK | os.W_OK):
        return (
            f"{TUN_DEVICE} is missing or not readable and writable by this user, "
            f"which {TOOL} needs: sandboxed user code gets no network "
            "(PLATFORM_SANDBOX_NETWORK=none)"
        )
    return None


def effective_mode(requested: str) -> str:
    """The mode sandboxes get: egress falls back to none (no network) where it cannot be had."""
    if requested == EGRESS and tool_problem() is not None:
        return NONE
    return requested


def tool_path() -> str | None:
    return shutil.which(TOOL) or shutil.which(TOOL, path="/usr/bin:/bin")
