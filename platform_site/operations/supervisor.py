"""A small foreground process supervisor for `manage.py runplatform`.

Policy (documented in the README):
- every child's output is copied to ours, each line prefixed with its name;
- a child that dies is reported loudly (name, how it ended, its last lines)
  and restarted after a backoff of 1, 2, 4 … 30 s; a child that ran for
  STABLE_AFTER_S before dying starts again from 1 s;
- a child that dies MAX_QUICK_FAILURES times in a row without ever running
  STABLE_AFTER_S (a port in use, a broken install) stops everything and the
  launcher exits 1: restarting it forever would only hide the problem;
- a child that is stuck (stopped by SIGSTOP, or silent: its liveness file,
  platform_site/operations/liveness.py, not touched for STUCK_AFTER_S) is SIGKILLed,
  then reported and restarted like any dead child;
- on SIGINT/SIGTERM every child gets SIGTERM, and whatever is left after the
  grace period gets SIGKILL (its whole process group, so forked execution
  processes go too), all within STOP_DEADLINE_S.

Signal handlers only record the signal: `signal.set_wakeup_fd` wakes the
main loop, which does the work. (A handler that took a lock, as
`threading.Event.set` or a print does, could deadlock against the very
code it interrupted.)
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from platform_site.operations.liveness import LIVENESS_ENV

TAIL_LINES = 20
STABLE_AFTER_S = 30.0
MAX_QUICK_FAILURES = 5
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 5.0
STOP_DEADLINE_S = 10.0
POLL_S = 0.2
# A child silent this long is taken for stuck. Its own work loops touch the
# file every second or so; a worst case (a database timeout, a retry) is tens of seconds.
STUCK_AFTER_S = float(os.environ.get("PLATFORM_STUCK_AFTER_S", "60"))


def restart_delay(failures: int) -> float:
    """Seconds to wait before the next start after `failures` deaths in a row."""
    if failures <= 0:
        return 0.0
    return min(2.0 ** (failures - 1), MAX_BACKOFF_S)


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exited with code {returncode}"


def death_report(
    *, name: str, returncode: int, tail: list[str], action: str
) -> list[str]:
    """The loud lines printed when a child dies: what, how, its last output, what next."""
    bar = "!" * 72
    lines = [bar, f"!! {name} {describe_exit(returncode)}. {action}"]
    if tail:
        lines.append(f"!! last {len(tail)} lines of {name}:")
        lines.extend(f"!!   {line}" for line in tail)
    else:
        lines.append(f"!! {name} printed nothing.")
    lines.append(bar)
    return lines


class Output:
    """Serialises prefixed lines from several threads onto one stream."""

    def __init__(self, stream: TextIO, width: int = 10):
        self.stream = stream
        self.width = width
        self.lock = threading.Lock()

    def line(self, name: str, text: str) -> None:
        with self.lock:
            self.stream.write(f"{name.ljust(self.width)}| {text}\n")
            self.stream.flush()

    def lines(self, name: str, texts: list[str]) -> None:
        for text in texts:
            self.line(name, text)


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    reader: threading.Thread | None = None
    # Children that touch a liveness file (platform_site/operations/liveness.py); Redis does not.
    watched: bool = False
    liveness_file: Path | None = None
    # Stopped after the others (the embedded Redis: they reach the broker
    # while they shut down).
    stop_last: bool = False


class GiveUp(Exception):
    """A child keeps dying at start; the supervisor stops everything."""


class Supervisor:
    def __init__(
        self,
        *,
        env: dict[str, str],
        cwd: Path,
        output: Output,
        clock: Callable[[], float] = time.monotonic,
        liveness_dir: Path | None = None,
        on_death: Callable[[str, int], None] | None = None,
    ):
        self.env = env
        self.cwd = cwd
        self.output = output
        self.clock = clock
        self.children: list[Child] = []
        # Set by the main loop once it starts stopping, for other threads to read.
        self.stopping = threading.Event()
        # Set by the signal handler, and nothing else is done there.
        self.stop_signal: int | None = None
        self._wakeup_fd: int | None = None
        # Where watched children's liveness files live; None: nobody is watched.
        self.liveness_dir = liveness_dir
        # Told (child name, pid) of each death, before the restart: what the
        # child held can be settled at once instead of when its lease expires.
        self.on_death = on_death

    # -- starting --------------------------------------------------------
    def add(
        self,
        name: str,
        argv: list[str],
        *,
        watched: bool = False,
        stop_last: bool = False,
    ) -> Child:
        child = Child(name=name, argv=argv, watched=watched, stop_last=stop_last)
        self.children.append(child)
        self.output.width = max(self.output.width, len(name) + 1)
        return child

    def start(self, child: Child) -> None:
        env = self.env
        if self.liveness_dir is not None and child.watched:
            child.liveness_file = self.liveness_dir / child.name
            child.liveness_file.touch()  # counts from now, not from the last run
            env = {**env, LIVENESS_ENV: str(child.liveness_file)}
        child.proc = subprocess.Popen(
            child.argv,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Own process group: a terminal's Ctrl-C reaches only us, and we
            # stop children in order; killpg also reaches their own children.
            start_new_session=True,
        )
        child.started_at = self.clock()
        child.restart_at = None
        child.reader = threading.Thread(
            target=self._copy_output,
            args=(child, child.proc),
            name=f"output-{child.name}",
            daemon=True,
        )
        child.reader.start()

    def _copy_output(self, child: Child, proc: subprocess.Popen) -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            child.tail.append(text)
            self.output.line(child.name, text)
        proc.stdout.close()

    # -- supervising -----------------------------------------------------
    def check(self) -> None:
        """One supervision step: report dead children, restart those whose backoff is over."""
        now = self.clock()
        for child in self.children:
            if child.proc is not None and child.proc.poll() is None:
                self._kill_if_stuck(child)
            if child.proc is not None and child.proc.poll() is not None:
                self._on_death(child, now)
            elif child.restart_at is not None and now >= child.restart_at:
                self.output.line("platform", f"restarting {child.name}")
                self.start(child)

    def _kill_if_stuck(self, child: Child) -> None:
        """SIGKILL a child that is stopped or silent; the death path restarts it."""
        assert child.proc is not None
        problem = stuck_reason(
            child.proc.pid, child.liveness_file, after_s=STUCK_AFTER_S
        )
        if problem is None:
            return
        self.output.line("platform", f"{child.name} is stuck ({problem}): SIGKILL")
        kill_group(child.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(2)

    def _on_death(self, child: Child, now: float) -> None:
        proc = child.proc
        assert proc is not None
        kill_group(proc.pid, signal.SIGKILL)  # orphans of the dead child
        if child.reader is not None:
            # Its last lines belong in the report; bounded, since an orphan
            # that escaped the group could still hold the pipe open.
            child.reader.join(timeout=1)
        child.proc = None
        if self.on_death is not None:
            try:
                self.on_death(child.name, proc.pid)
            except Exception as exc:  # reported; the lease settles it later
                self.output.line("platform", f"settling {child.name}: {exc!r}")
        if now - child.started_at >= STABLE_AFTER_S:
            child.failures = 0
        child.failures += 1
        if child.failures > MAX_QUICK_FAILURES:
            action = (
                f"It died {child.failures} times in a row within "
                f"{STABLE_AFTER_S:.0f} s of starting: stopping the platform."
            )
        else:
            delay = restart_delay(child.failures)
            child.restart_at = now + delay
            action = f"Restarting it in {delay:.0f} s."
        self.output.lines(
            "platform",
            death_report(
                name=child.name,
                returncode=proc.returncode,
                tail=list(child.tail),
                action=action,
            ),
        )
        if child.failures > MAX_QUICK_FAILURES:
            raise GiveUp(child.name)

    def run(self) -> int:
        """Supervise until asked to stop (0) or a child keeps failing (1)."""
        code = 0
        try:
            while self.stop_signal is None:
                self.check()
                self.pause(POLL_S)
        except GiveUp:
            code = 1
        if self.stop_signal is not None:
            name = signal.Signals(self.stop_signal).name
            self.output.line("platform", f"{name} received, stopping…")
        self.stopping.set()
        self.stop_all()
        return code

    def install_signal_handlers(self, signals: tuple[int, ...]) -> None:
        """Route `signals` to request_stop; set_wakeup_fd ends the main loop's pause at once."""
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        os.set_blocking(write_fd, False)
        signal.set_wakeup_fd(write_fd)
        self._wakeup_fd = read_fd
        for sig in signals:
            signal.signal(sig, self.request_stop)

    def request_stop(self, signum: int = signal.SIGTERM, frame: object = None) -> None:
        """Signal handler: records the signal, nothing else (no lock, no print)."""
        self.stop_signal = signum

    def pause(self, seconds: float) -> None:
        """Sleep, woken early by a signal (through the wakeup fd)."""
        if self._wakeup_fd is None:
            time.sleep(seconds)
            return
        ready, _, _ = select.select([self._wakeup_fd], [], [], seconds)
        if ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._wakeup_fd, 512)

    # -- stopping --------------------------------------------------------
    def stop_all(self, *, grace_s: float = STOP_GRACE_S) -> None:
        """Stop every child at once (the web answers its held calls meanwhile), then those marked stop_last.

        The embedded Redis is stopped last so the others can still reach the
        broker while they shut down.
        """
        # Real time, not self.clock: the deadline is a promise to the operator.
        deadline = time.monotonic() + STOP_DEADLINE_S
        rest = [c for c in self.children if not c.stop_last]
        last = [c for c in self.children if c.stop_last]
        for group in (rest, last):
            running = [c for c in group if c.proc is not None and c.proc.poll() is None]
            for child in running:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
            budget = min(grace_s, max(0.5, deadline - time.monotonic() - 2.0))
            self._wait(running, until=time.monotonic() + budget)
            for child in group:
                if child.proc is None:
                    continue
                if child.proc.poll() is None:
                    self.output.line(
                        "platform", f"{child.name} ignored SIGTERM: SIGKILL"
                    )
                kill_group(child.proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.proc.wait(1)
        self.output.line("platform", "stopped.")

    def _wait(self, children: list[Child], *, until: float) -> None:
        while time.monotonic() < until:
            if all(c.proc.poll() is not None for c in children if c.proc is not None):
                return
            time.sleep(0.05)


def process_state(pid: int) -> str | None:
    """The state letter of /proc/<pid>/stat (T: stopped), None when unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the state follows the last ")".
    fields = stat.rpartition(")")[2].split()
    return fields[0] if fields else None


def stuck_reason(pid: int, liveness_file: Path | None, *, after_s: float) -> str | None:
    """Why a running child counts as stuck, or None. Stopped, or silent past after_s."""
    if liveness_file is None:
        return None
    try:
        silent_s = time.time() - liveness_file.stat().st_mtime
    except OSError:
        return None
    if silent_s < after_s:
        return None
    if process_state(pid) in ("T", "t"):
        return f"stopped by a signal for {silent_s:.0f} s"
    return f"no sign of life for {silent_s:.0f} s"


def kill_group(pgid: int, sig: int) -> None:
    """Signal a whole process group; fine if it is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
