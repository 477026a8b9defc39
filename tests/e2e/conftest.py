from __future__ import annotations

import pytest

from tests.e2e.live import LivePlatform


@pytest.fixture
def sdk(live_platform: LivePlatform):
    return live_platform.sdk()
