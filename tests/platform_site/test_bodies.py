from __future__ import annotations

import pytest
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http.multipartparser import MultiPartParserError

from platform_site.http.bodies import (
    MAX_JSON_DEPTH,
    MalformedJson,
    body_error,
    json_loads,
)
from platform_site.http.errors import TooLarge


def test_it_reads_strict_json():
    assert json_loads(b'{"a": [1, 2.5, "\xc3\xa9", null]}') == {
        "a": [1, 2.5, "é", None]
    }


@pytest.mark.parametrize("word", ["NaN", "Infinity", "-Infinity"])
def test_it_refuses_non_finite_numbers_naming_them(word):
    with pytest.raises(MalformedJson, match=f"{word} is not valid JSON"):
        json_loads(f'{{"number1": {word}}}')


def test_it_accepts_the_deepest_allowed_nesting_and_refuses_one_more():
    deepest = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH

    assert json_loads(deepest) is not None
    with pytest.raises(MalformedJson, match=f"deeper than {MAX_JSON_DEPTH}"):
        json_loads("[" + deepest + "]")


def test_it_refuses_50000_levels_without_a_recursion_error():
    with pytest.raises(MalformedJson, match="deeper than"):
        json_loads("[" * 50_000 + "]" * 50_000)


@pytest.mark.parametrize(
    "text",
    ['"\\u0000"', '{"a": "x\\u0000"}', '{"a\\u0000": 1}', '[{"b": ["\\u0000"]}]'],
)
def test_it_refuses_a_nul_anywhere_in_a_string(text):
    # PostgreSQL's text and jsonb refuse it: a 500 later, a 400 here.
    with pytest.raises(MalformedJson, match="NUL character"):
        json_loads(text)


def test_it_names_the_invalid_utf8_byte():
    with pytest.raises(
        MalformedJson, match="not valid UTF-8 \\(byte 0xff at position 7\\)"
    ):
        json_loads(b'{"a": "\xff"}')


def test_it_names_the_field_that_holds_the_json():
    with pytest.raises(MalformedJson, match="^Malformed json_inputs: "):
        json_loads("{", what="json_inputs")


@pytest.mark.parametrize(
    ("exc", "status", "name"),
    [
        (
            MultiPartParserError("Invalid boundary in multipart: None"),
            400,
            "MalformedBody",
        ),
        (TooManyFieldsSent("too many"), 400, "TooManyFields"),
        (RequestDataTooBig("too big"), 413, "PayloadTooLarge"),
    ],
)
def test_it_maps_djangos_body_errors_to_4xx(exc, status, name):
    refusal = body_error(exc)

    assert (refusal.status, refusal.name) == (status, name)


def test_it_leaves_other_errors_alone():
    assert body_error(KeyError("x")) is None
    assert isinstance(body_error(TooLarge("x")), TooLarge)
