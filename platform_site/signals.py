"""Signals the project's core sends for later apps to act on (ARCHITECTURE: a lower layer never imports a later one).

- `child_died(name, pid)`: `make run`'s supervisor saw a child process die
  (name is its role: web, worker, pods, ...), before restarting it.
"""

from __future__ import annotations

from django.dispatch import Signal

child_died = Signal()
