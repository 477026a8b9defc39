"""What the benches print: percentiles of their samples, by the same rule."""

from __future__ import annotations


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank `share` quantile of `values` (0.99 for p99)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]
