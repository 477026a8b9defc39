"""Worker-side glue: the sandbox from settings, one ZygotePool per worker process (lazy), closed on shutdown."""

from __future__ import annotations

import threading

from celery.signals import worker_shutdown
from django.conf import settings

_pool = None
_lock = threading.Lock()

# The zygotes start user code: they get the same scrubbed environment as executions.
ZYGOTE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def get_sandbox():
    """The sandbox every piece of user code runs in, or None when PLATFORM_SANDBOX=off."""
    from executions.runtime.sandbox import Sandbox

    if not settings.SANDBOX_ENABLED:
        return None
    return Sandbox(
        network=settings.SANDBOX_NETWORK != "none",
        max_processes=settings.SANDBOX_MAX_PROCESSES,
        tmp_mib=settings.SANDBOX_TMP_MIB,
        uid_base=settings.SANDBOX_UID_BASE,
    )


def get_pool():
    """The process-wide pool (thread-safe); the runtime is imported only when first needed."""
    global _pool
    with _lock:
        if _pool is None:
            from executions.runtime.pool import ZygotePool

            _pool = ZygotePool(runtime_env=dict(ZYGOTE_ENV), sandbox=get_sandbox())
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
