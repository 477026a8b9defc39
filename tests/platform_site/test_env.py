from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from platform_site.env import envurl, local_url, url_host_names


def test_it_defaults_the_public_url_to_what_make_run_prints():
    assert local_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert local_url("0.0.0.0", 9000) == "http://127.0.0.1:9000"
    assert local_url("::1", 8000) == "http://[::1]:8000"


def test_it_reads_a_public_url_without_its_trailing_slash(monkeypatch):
    monkeypatch.setenv("PLATFORM_PUBLIC_URL", "https://platform.example.org/")

    assert envurl("PLATFORM_PUBLIC_URL", "") == "https://platform.example.org"


@pytest.mark.parametrize("raw", ["platform.example.org", "ftp://x", "http://"])
def test_it_refuses_a_public_url_that_is_not_absolute_http(monkeypatch, raw):
    monkeypatch.setenv("PLATFORM_PUBLIC_URL", raw)

    with pytest.raises(ImproperlyConfigured, match="PLATFORM_PUBLIC_URL"):
        envurl("PLATFORM_PUBLIC_URL", "")


def test_it_allows_the_public_host_and_loopback_names_only():
    assert url_host_names("https://platform.example.org:8443") == [
        "platform.example.org",
        "127.0.0.1",
        "localhost",
        "[::1]",
    ]
    assert url_host_names("http://127.0.0.1:8000") == [
        "127.0.0.1",
        "localhost",
        "[::1]",
    ]
