"""Signals of the executions app, for later apps (deployments, pods) to act on.

- `execution_runs_again(execution)`: a low-latency execution whose runner
  died was put back Pending to run once more, before any other of its
  deployment (executions/services/runners.py); its delivery is the pods'.
"""

from __future__ import annotations

from django.dispatch import Signal

execution_runs_again = Signal()
