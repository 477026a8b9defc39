from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from platform_site.operations import embedded_redis


@pytest.fixture(scope="session")
def redis_socket_dir():
    """A short folder: unix socket paths must stay under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="plt-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def private_redis(redis_socket_dir):
    """A throw-away embedded Redis, so heartbeat tests never touch a shared server."""
    socket_path = redis_socket_dir / "redis.sock"
    proc = embedded_redis.start(socket_path=socket_path, data_dir=redis_socket_dir)
    yield socket_path
    embedded_redis.stop(proc)


@pytest.fixture
def private_redis_url(private_redis, settings):
    settings.REDIS_URL = f"unix://{private_redis}"
    embedded_redis.client_for(private_redis).flushdb()
    return settings.REDIS_URL
