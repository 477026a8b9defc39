from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_it_answers_who_am_i(sdk):
    me = sdk.who_am_i()
    assert me["name"] == "alice"
