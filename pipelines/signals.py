"""Signals of the pipelines app, for later apps to act on (a lower layer never imports a later one).

- `pipeline_dependents(pipeline)`: sent inside the deleting transaction with
  the pipeline row locked; each receiver returns the names of what depends
  on it (deployments), which refuses the deletion without `force`.
- `pipeline_deleting(pipeline)`: sent next, in the same transaction, when the
  deletion goes ahead; each receiver deletes its dependents and returns a
  list of dicts describing them (`name`, `execution_rule`).
"""

from __future__ import annotations

from django.dispatch import Signal

pipeline_dependents = Signal()
pipeline_deleting = Signal()


def responses(signal: Signal, **kwargs) -> list:
    """Every receiver's list, flattened in the order receivers were connected."""
    return [item for _, found in signal.send(sender=None, **kwargs) for item in found]
