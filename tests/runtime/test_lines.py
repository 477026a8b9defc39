from __future__ import annotations

from runtime.lines import MAX_LINE_BYTES, LineSplitter


def _split(*chunks: bytes) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    splitter = LineSplitter(
        "stdout", lambda stream, ts, line: seen.append((stream, line))
    )
    for chunk in chunks:
        splitter.feed(chunk)
    splitter.close()
    return seen


def test_it_joins_lines_across_chunks():
    assert _split(b"he", b"llo\nwor", b"ld\n", b"tail") == [
        ("stdout", "hello"),
        ("stdout", "world"),
        ("stdout", "tail"),
    ]


def test_it_keeps_empty_lines():
    assert _split(b"a\n\nb\n") == [("stdout", "a"), ("stdout", ""), ("stdout", "b")]


def test_it_cuts_long_lines_without_splitting_a_character():
    text = "x" * (MAX_LINE_BYTES - 1) + "é" + "y"

    lines = [line for _, line in _split(text.encode())]

    assert lines == ["x" * (MAX_LINE_BYTES - 1), "éy"]


def test_it_replaces_invalid_utf8():
    assert _split(b"caf\xe9\n") == [("stdout", "caf\ufffd")]
