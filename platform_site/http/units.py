"""Units and formats every app shares: RAM sizes, timestamps, booleans as text. Framework-free.

One rule each, so the API, the Deploy wizard, the executions and the
settings never disagree on what "1500KiB", a date on the wire or "yes" means.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off", ""})


def boolean_word(text: str) -> bool | None:
    """True or False as people write them in forms, variables and typed text (any case); None otherwise."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


RAM_UNITS_MIB = {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}
# "512MiB", "1GiB": what the SDK sends as ram_request (docs/sdk-protocol.md §4).
RAM_REQUEST_PATTERN = re.compile(r"^(\d+)(KiB|MiB|GiB)$")


def ram_mib(number: object, unit: object) -> int | None:
    """number × unit in MiB, rounded up (a request is never cut short); None unless a positive whole number of a known unit."""
    try:
        count = int(str(number).strip())
    except ValueError:
        return None
    if count < 1 or unit not in RAM_UNITS_MIB:
        return None
    return max(1, math.ceil(count * RAM_UNITS_MIB[str(unit)]))


def ram_request_mib(ram_request: str | None) -> int | None:
    """'512MiB' -> 512, '1GiB' -> 1024, '1500KiB' -> 2; None when absent or unreadable."""
    match = RAM_REQUEST_PATTERN.match(ram_request or "")
    return ram_mib(match.group(1), match.group(2)) if match else None


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds and a Z (2025-01-01T12:00:00.000Z), as the hosted product writes dates."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
