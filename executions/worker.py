"""Worker-side glue: one ZygotePool per worker process, created lazily, closed on shutdown."""

from __future__ import annotations

import threading

from celery.signals import worker_shutdown

_pool = None
_lock = threading.Lock()

# The zygotes start user code: they get the same scrubbed environment as executions.
ZYGOTE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def get_pool():
    """The process-wide pool (thread-safe); the runtime is imported only when first needed."""
    global _pool
    with _lock:
        if _pool is None:
            from executions.runtime.pool import ZygotePool

            _pool = ZygotePool(runtime_env=dict(ZYGOTE_ENV))
        return _pool


def close_pool() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


@worker_shutdown.connect
def _close_pool_on_shutdown(**kwargs) -> None:
    close_pool()
