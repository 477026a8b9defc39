"""The executions a pod is running: what each waits for, found by the pod's events."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from executions.models import Execution
from executions.services.logs import LogSink


@dataclass
class InFlight:
    execution: Execution
    work_dir: Path
    sink: LogSink
    deadline: float
    done: threading.Event = field(default_factory=threading.Event)
    report: dict[str, Any] | None = None
    died: str | None = None  # why the pod died under it
    retryable: bool = False  # queue mode runs it once more (runners.py's rule)
    never_started: bool = False  # the pod never had it: it simply runs later
    abandoned: bool = False  # the host is stopping: it settles the execution
    timed_out: bool = False
    sink_started: bool = False


class InFlightRuns:
    """The executions the pod is running, by run id: where the pod's events find them."""

    def __init__(self) -> None:
        self._items: dict[int, InFlight] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def add(self, item: InFlight) -> int:
        with self._lock:
            run_id = next(self._ids)
            self._items[run_id] = item
        return run_id

    def pop(self, run_id: int) -> None:
        with self._lock:
            self._items.pop(run_id, None)

    def get(self, run_id: int | None) -> InFlight | None:
        return self._items.get(run_id) if run_id is not None else None

    def all(self) -> list[InFlight]:
        with self._lock:
            return list(self._items.values())

    # -- what the pod says, passed on by the runner ---------------------------

    def on_log(self, run_id: int | None, stream: str, line: str) -> bool:
        """A line the pod printed for a run; False when no run of ours printed it."""
        item = self.get(run_id)
        if item is None:
            return False
        if not item.sink_started:
            item.sink_started = True
            item.sink.start()
        item.sink.on_log(stream, time.time(), line)
        return True

    def on_done(self, run_id: int, report: dict[str, Any]) -> None:
        item = self.get(run_id)
        if item is not None:
            item.report = report
            item.done.set()

    def pod_died(self, how: str, *, retryable: bool) -> None:
        """Every run still waiting ends with the pod; `retryable`: queue mode runs them once more."""
        for item in self.all():
            if item.done.is_set():
                continue
            item.died = how
            item.retryable = retryable and not item.timed_out
            item.done.set()

    def past_deadline(self, now: float) -> list[InFlight]:
        """Runs past their timeout, now marked timed out (the runner recycles the pod)."""
        late = [
            item
            for item in self.all()
            if not item.done.is_set() and not item.timed_out and now > item.deadline
        ]
        for item in late:
            item.timed_out = True
            item.done.set()
        return late

    def end_all(self, why: str) -> None:
        """The deployment was disabled, deleted or changed: every run ends with `why`."""
        for item in self.all():
            item.died = why
            item.done.set()

    def abandon_all(self) -> None:
        """The host stops: it settles every run itself."""
        for item in self.all():
            item.abandoned = True
            item.done.set()

    def execution_pks(self) -> list[UUID]:
        return [item.execution.pk for item in self.all()]
