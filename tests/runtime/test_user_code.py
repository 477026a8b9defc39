from __future__ import annotations

from runtime.user_code import describe


def test_it_describes_an_exception_on_one_line():
    assert describe(ValueError("first\n  second")) == "ValueError: first second"
    assert describe(KeyError("k")) == "KeyError: 'k'"
    assert describe(AssertionError()) == "AssertionError"
