"""Turn a child's stdout/stderr bytes into on_log lines: in order, UTF-8, long lines cut at 64 KiB."""

from __future__ import annotations

import time
from collections.abc import Callable

MAX_LINE_BYTES = 64 * 1024

LogCallback = Callable[[str, float, str], None]


class LineSplitter:
    """Split one stream's bytes into lines for on_log, in order, long lines cut at 64 KiB."""

    def __init__(self, stream: str, on_log: LogCallback) -> None:
        self.stream = stream
        self.on_log = on_log
        self.buf = bytearray()

    def feed(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            self._line(bytes(buf[start:end]))
            start = end + 1
        del buf[:start]
        while len(buf) > MAX_LINE_BYTES:
            cut = _utf8_cut(buf, MAX_LINE_BYTES)
            self._emit(bytes(buf[:cut]))
            del buf[:cut]

    def close(self) -> None:
        if self.buf:
            self._line(bytes(self.buf))
            self.buf.clear()

    def _line(self, raw: bytes) -> None:
        while len(raw) > MAX_LINE_BYTES:
            cut = _utf8_cut(raw, MAX_LINE_BYTES)
            self._emit(raw[:cut])
            raw = raw[cut:]
        self._emit(raw)

    def _emit(self, raw: bytes) -> None:
        self.on_log(self.stream, time.time(), raw.decode("utf-8", "replace"))


def _utf8_cut(data: bytes | bytearray, limit: int) -> int:
    """A cut point <= limit that does not split a UTF-8 sequence (when the data is UTF-8)."""
    cut = limit
    while cut > limit - 3 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if (data[cut] & 0xC0) != 0x80 else limit
