"""Execution log lines: batched, bounded writes from the worker; cursor and time-window reads."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction

from executions.models import Execution, LogLine, LogStream
from platform_site.clients.db_retry import DATABASE_BLIPS
from platform_site.http.log_window import LogWindow

logger = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.1
FLUSH_MAX_LINES = 500
# At the end of a run, lines waiting for the database are retried this long
# (less than stop()'s join, so the thread ends before anyone gives up on it).
FINAL_FLUSH_S = 25.0
FINAL_FLUSH_RETRY_S = 0.5
MAX_STORED_LINE_CHARS = 64 * 1024
DISPLAY_LINE_CHARS = 2000
LOG_CUT = (
    "[platform] Log limit reached ({max_lines} lines or {max_bytes} bytes per "
    "execution): further output of this execution is not stored. The execution "
    "goes on."
)
LOG_DROPPED = "[platform] {lines} more lines ({bytes} bytes) of output were not stored."


def _clip(message: str) -> str:
    """Very long lines are cut when stored, with a note saying how much was dropped."""
    if len(message) <= MAX_STORED_LINE_CHARS:
        return message
    dropped = len(message) - MAX_STORED_LINE_CHARS
    return f"{message[:MAX_STORED_LINE_CHARS]}… [{dropped} more characters not stored]"


class LogSink:
    """Collects on_log lines and flushes them in batches; also beats the heartbeat.

    One background thread per running execution: it writes pending lines every
    FLUSH_INTERVAL_S (or sooner past FLUSH_MAX_LINES) so a long execution's logs
    are visible while it runs, and updates heartbeat_at every
    HEARTBEAT_INTERVAL_S. `lost` is set when the heartbeat finds the row no
    longer Running (reaped by the sweeper, or deleted), or when no heartbeat
    got through for HEARTBEAT_TIMEOUT_S: the sweeper will reap it by then, so
    the run must stop rather than become a zombie (RELIABILITY R8).

    Storage is bounded per execution (EXECUTION_LOG_MAX_LINES and _BYTES):
    past either cap one marker line says so, later lines are only counted,
    and a last line tells how many were dropped. The child keeps running:
    its pipes are still read, only the database is spared.
    """

    def __init__(
        self, execution: Execution, heartbeat: Callable[[], bool] | None = None
    ):
        self.execution_pk = execution.pk
        self.seq = execution.log_line_count
        self.heartbeat = heartbeat
        self.max_lines = settings.EXECUTION_LOG_MAX_LINES
        self.max_bytes = settings.EXECUTION_LOG_MAX_BYTES
        self.kept_lines = execution.log_line_count  # a retried run goes on counting
        self.kept_bytes = 0
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self.lost = threading.Event()
        self._last_beat_ok = time.monotonic()
        self._lines: list[tuple[str, float, str]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._loop, name=f"logs-{execution.execution_id}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def on_log(self, stream: str, timestamp: float, line: str) -> None:
        message = _clip(line.rstrip("\n"))
        size = len(message.encode("utf-8", "replace"))
        with self._lock:
            if self.dropped_lines or not self._fits(size):
                if not self.dropped_lines:
                    cut = LOG_CUT.format(
                        max_lines=self.max_lines, max_bytes=self.max_bytes
                    )
                    self._lines.append((LogStream.STDERR, timestamp, cut))
                self.dropped_lines += 1
                self.dropped_bytes += size
                return
            self.kept_lines += 1
            self.kept_bytes += size
            self._lines.append((stream, timestamp, message))
            if len(self._lines) >= FLUSH_MAX_LINES:
                self._wake.set()

    def _fits(self, size: int) -> bool:
        return (
            self.kept_lines < self.max_lines
            and self.kept_bytes + size <= self.max_bytes
        )

    def stop(self) -> None:
        """Note the dropped lines, flush what is left and stop the thread."""
        with self._lock:
            if self.dropped_lines:
                self._lines.append(
                    (
                        LogStream.STDERR,
                        time.time(),
                        LOG_DROPPED.format(
                            lines=self.dropped_lines, bytes=self.dropped_bytes
                        ),
                    )
                )
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        else:  # never started (or already gone): flush here
            self.flush()

    def _loop(self) -> None:
        last_beat = time.monotonic()
        try:
            while not self._stop.is_set():
                self._wake.wait(FLUSH_INTERVAL_S)
                self._wake.clear()
                self.flush()
                if (
                    self.heartbeat is not None
                    and time.monotonic() - last_beat >= settings.HEARTBEAT_INTERVAL_S
                ):
                    last_beat = time.monotonic()
                    self._beat()
                # Back to the pool between batches: a long run must not pin one.
                connection.close()
            deadline = time.monotonic() + FINAL_FLUSH_S
            while not self.flush() and time.monotonic() < deadline:
                time.sleep(FINAL_FLUSH_RETRY_S)
        finally:
            connection.close()

    def _beat(self) -> None:
        try:
            if self.heartbeat():
                self._last_beat_ok = time.monotonic()
            else:
                self.lost.set()
        except DatabaseError:
            logger.warning("Heartbeat failed for execution %s", self.execution_pk)
            close_old_connections()
            if time.monotonic() - self._last_beat_ok > settings.HEARTBEAT_TIMEOUT_S:
                self.lost.set()

    def flush(self) -> bool:
        """Write the pending lines; False when the database was away and they wait."""
        with self._lock:
            lines, self._lines = self._lines, []
        if not lines:
            return True
        rows = []
        for stream, timestamp, message in lines:
            self.seq += 1
            rows.append(
                LogLine(
                    execution_id=self.execution_pk,
                    seq=self.seq,
                    timestamp=datetime.fromtimestamp(timestamp, tz=UTC),
                    stream=stream if stream in LogStream.values else LogStream.STDOUT,
                    message=message,
                )
            )
        try:
            with transaction.atomic():
                LogLine.objects.bulk_create(rows)
                Execution.objects.filter(pk=self.execution_pk).update(
                    log_line_count=self.seq
                )
        except DATABASE_BLIPS:
            # The database is away: keep the batch for the next flush (still bounded
            # by the caps above), so a restart loses no line.
            logger.warning("Log lines of %s wait for the database", self.execution_pk)
            self.seq -= len(rows)
            with self._lock:
                self._lines = lines + self._lines
            connection.close()
            return False
        except DatabaseError:
            # The execution was deleted (FK violation): nothing to keep them for.
            logger.warning("Dropped %d log lines of %s", len(rows), self.execution_pk)
            close_old_connections()
        return True


def log_lines_after(
    *, execution: Execution, after_seq: int, limit: int = 500
) -> list[LogLine]:
    """Lines with seq > after_seq, oldest first (the live-tail cursor)."""
    return list(
        LogLine.objects.filter(execution=execution, seq__gt=after_seq).order_by("seq")[
            :limit
        ]
    )


def log_lines_window(
    *,
    execution: Execution,
    window: LogWindow,
) -> list[LogLine]:
    """Lines in the window (platform_site/http/log_window.py), chronological."""
    lines = window.filter(LogLine.objects.filter(execution=execution))
    return list(lines.order_by("timestamp", "seq")[: window.max_lines])
