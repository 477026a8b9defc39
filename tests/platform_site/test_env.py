from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.core.exceptions import ImproperlyConfigured

from platform_site.env import envurl, local_url, persistent_secret, url_host_names
from platform_site.operations.processes import BASE_DIR


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


def test_it_keeps_a_generated_secret_across_starts(tmp_path):
    first = persistent_secret(tmp_path / "secret_key")

    assert persistent_secret(tmp_path / "secret_key") == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_processes_starting_at_once_on_a_fresh_data_dir_share_one_secret(tmp_path):
    """Several roles start together on a new machine: none may crash or differ."""
    read_it = (
        "import sys, time; from pathlib import Path\n"
        "from platform_site.env import persistent_secret\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "print(persistent_secret(Path(sys.argv[1])))"
    )
    start_at = str(time.time() + 1.5)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", read_it, str(tmp_path / "secret_key"), start_at],
            cwd=BASE_DIR,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    secrets_seen = {p.communicate(timeout=30)[0].strip() for p in processes}

    assert all(p.returncode == 0 for p in processes)
    assert len(secrets_seen) == 1 and "" not in secrets_seen
    assert [f.name for f in tmp_path.iterdir()] == ["secret_key"]
