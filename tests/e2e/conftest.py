from __future__ import annotations

import pytest

from tests.e2e.live import LivePlatform, drop_live_platform, start_live_platform


@pytest.fixture(scope="session")
def live_platform(tmp_path_factory) -> LivePlatform:
    """One live stack for the whole session; tests use unique pipeline names."""
    platform = start_live_platform(tmp_path_factory.mktemp("live"))
    yield platform
    drop_live_platform(platform)


@pytest.fixture
def sdk(live_platform: LivePlatform):
    return live_platform.sdk()
