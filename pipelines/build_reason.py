"""Why a pipeline build failed, in one line read from its creation log.

A failed `pip install` ends with pages of output; the line that says why is
pip's last `ERROR:` line (a missing distribution, a conflict, a failed wheel),
not the log's last line. Takes the log's messages, oldest first; knows nothing
of requests or models.
"""

from __future__ import annotations

import re

# Lines the build itself writes around the cause: never the reason.
BUILD_MARKERS = ("Pipeline creation failed",)
PIP_ERROR = re.compile(r"^\s*ERROR:\s*(?P<text>.+)")
# Python's own error lines ("ModuleNotFoundError: ...", "error: subprocess-exited-with-error").
ANY_ERROR = re.compile(r"\b(\w*Error|error|Exception)\b")
# pip's generic wrapper lines, which name no cause.
GENERIC = re.compile(
    r"subprocess-exited-with-error|This error originates from a subprocess|^note:",
    re.IGNORECASE,
)


def build_failure_reason(messages: list[str]) -> str | None:
    """The line that explains a failed build; None for an empty log."""
    lines = [
        m.strip() for m in messages if m.strip() and m.strip() not in BUILD_MARKERS
    ]
    if not lines:
        return None
    for line in reversed(lines):
        match = PIP_ERROR.match(line)
        if match and not GENERIC.search(line):
            return match["text"]
    for line in reversed(lines):
        if ANY_ERROR.search(line) and not GENERIC.search(line):
            return line
    return lines[-1]
