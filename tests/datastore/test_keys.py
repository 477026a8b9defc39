from __future__ import annotations

import pytest

from datastore.keys import (
    KEY_BAD_CHARACTERS,
    KEY_DOT_SEGMENT,
    MAX_KEY_LENGTH,
    key_problem,
    render_template,
    template_problem,
)
from datastore.services import datastore_path_error, validate_key
from platform_site.http.errors import ValidationFailed

# RELIABILITY X2: encodings that bypassed deny-lists elsewhere.
TRAVERSAL_CORPUS = [
    "../x",
    "..%2fx",
    "%2e%2e/",
    "%2e%2e/x",
    "\\..\\x",
    "x\\..\\y",
    "x#/../../etc/passwd",
    "/abs",
    "/etc/passwd",
    "\u2024\u2024/x",
    "x/\uff0e\uff0e/y",
    "x\x00",
    "x\x00/../../etc/passwd",
    "a/../b",
    "a/./b",
    "..",
    ".",
    "a//b",
    "a/",
    "",
    "x\n",
    "x y",
    "~tmp-1",
    "a" * (MAX_KEY_LENGTH + 1),
    "a" * 256,
]


@pytest.mark.parametrize("path", TRAVERSAL_CORPUS)
def test_it_rejects_the_traversal_corpus(path):
    assert key_problem(path) is not None


@pytest.mark.parametrize("path", TRAVERSAL_CORPUS)
def test_it_raises_validation_failed_naming_path_to_object(path):
    with pytest.raises(ValidationFailed) as exc:
        validate_key(path)
    assert "path_to_object" in exc.value.message


@pytest.mark.parametrize(
    "path", ["a.csv", "dir/a.csv", "a/b/c-d_e.f", ".hidden", "a/..b", "...", "A9"]
)
def test_it_accepts_plain_keys(path):
    assert key_problem(path) is None


def test_it_explains_dot_segments():
    assert key_problem("a/../b") == KEY_DOT_SEGMENT


def test_it_explains_bad_characters():
    assert key_problem("a b") == KEY_BAD_CHARACTERS


def test_it_accepts_a_key_of_maximum_length():
    key = "/".join(["a" * 255] * 3 + ["b" * 254, "c"])
    assert len(key) == MAX_KEY_LENGTH
    assert key_problem(key) is None


def test_it_accepts_output_placeholders_in_templates():
    assert template_problem("out/{execution_id}/{date}_{date_time}.csv") is None


def test_it_rejects_unknown_placeholders():
    assert template_problem("out/{user}.csv") == KEY_BAD_CHARACTERS


def test_it_rejects_traversal_hidden_in_a_template():
    assert template_problem("{date}/../x") == KEY_DOT_SEGMENT


def test_it_renders_placeholders_without_format():
    rendered = render_template(
        "o/{execution_id}/{date}/{date_time}",
        execution_id="e-1",
        date="20250102",
        date_time="20250102_030405",
    )
    assert rendered == "o/e-1/20250102/20250102_030405"


def test_it_returns_none_for_a_valid_mapping_path():
    assert datastore_path_error("in/data.csv") is None


def test_it_returns_a_sentence_for_an_invalid_mapping_path():
    message = datastore_path_error("../x")
    assert message is not None and "'../x'" in message


def test_it_refuses_placeholders_for_input_paths():
    assert datastore_path_error("in/{date}.csv", template=False) is not None
