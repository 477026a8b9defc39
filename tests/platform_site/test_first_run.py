"""First run: printed commands work with or without PLATFORM_DATA_DIR; no second data dir;
no ERROR line for /healthz's 503 while starting."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import RequestFactory

from platform_site.env import data_dir_prepare
from platform_site.management.commands import runplatform
from platform_site.operations.log_filters import HealthzUnavailable
from tests.platform_site.test_runplatform_live import launcher, wait_healthy  # noqa: F401

BASE_DIR = Path(__file__).resolve().parents[2]


def manage(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    """`manage.py ...` as a user types it: SQLite in the data dir, no DATABASE_URL."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PLATFORM_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_creates_the_data_dir_for_the_platforms_start(tmp_path):
    for command in ("runplatform", "migrate"):
        data_dir_prepare(tmp_path / command, ["manage.py", command])
        assert (tmp_path / command).is_dir()


def test_it_creates_it_outside_management_commands(tmp_path):
    data_dir_prepare(tmp_path / "web", ["/venv/bin/uvicorn", "platform_site.asgi"])
    assert (tmp_path / "web").is_dir()


def test_it_refuses_a_second_data_dir_for_another_command(tmp_path):
    with pytest.raises(SystemExit) as refused:
        data_dir_prepare(tmp_path / "x", ["/repo/manage.py", "create_sdk_token"])
    assert "PLATFORM_DATA_DIR" in str(refused.value.code)
    assert not (tmp_path / "x").exists()


def test_it_uses_an_existing_data_dir(tmp_path):
    data_dir_prepare(tmp_path, ["manage.py", "create_sdk_token"])


def test_the_command_refuses_without_a_traceback_nor_a_stray_dir(tmp_path):
    missing = tmp_path / "not-there"
    done = manage("create_sdk_token", "admin", data_dir=missing)
    assert done.returncode == 1
    assert "PLATFORM_DATA_DIR" in done.stderr and "Traceback" not in done.stderr
    assert not missing.exists()


def test_the_command_names_an_unmigrated_database(tmp_path):
    done = manage("create_sdk_token", "admin", data_dir=tmp_path)
    assert done.returncode == 1
    assert "no tables yet" in done.stderr and "Traceback" not in done.stderr
    assert "no such table" not in done.stderr


def test_the_printed_command_works_on_a_migrated_data_dir(tmp_path):
    assert manage("migrate", "--verbosity", "0", data_dir=tmp_path).returncode == 0
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; django.setup();"
            "from django.contrib.auth import get_user_model as u;"
            "u().objects.create_user('admin', password='pw-admin-1')",
        ],
        cwd=BASE_DIR,
        env={
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "PLATFORM_DATA_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "platform_site.settings",
        },
        check=True,
    )
    done = manage("create_sdk_token", "admin", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()[-1]) > 20


def test_the_banner_names_a_data_dir_other_than_the_default(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    text = "\n".join(runplatform.banner(url="http://h", password=None, from_env=False))
    assert (
        f"PLATFORM_DATA_DIR={tmp_path} .venv/bin/python manage.py create_sdk_token admin"
        in text
    )


def test_the_banner_prints_the_plain_command_for_the_default(settings):
    settings.DATA_DIR = settings.DEFAULT_DATA_DIR.resolve()
    text = "\n".join(runplatform.banner(url="http://h", password=None, from_env=False))
    assert "  SDK token: .venv/bin/python manage.py create_sdk_token admin" in text


def _record(path: str, status: int) -> logging.LogRecord:
    record = logging.LogRecord("django.request", logging.ERROR, "", 0, "x", (), None)
    record.request = RequestFactory().get(path)
    record.status_code = status
    return record


def test_healthz_503_is_not_logged_as_an_error():
    assert not HealthzUnavailable().filter(_record("/healthz", 503))


def test_other_server_errors_are_still_logged():
    assert HealthzUnavailable().filter(_record("/healthz", 500))
    assert HealthzUnavailable().filter(_record("/api/v1/x", 503))


@pytest.mark.e2e
def test_make_runs_banner_command_works_as_printed_and_boot_logs_no_error(launcher):  # noqa: F811
    wait_healthy(launcher)
    output = launcher.log_path.read_text()
    printed = next(
        line.split("SDK token: ", 1)[1].split("  (or ", 1)[0]
        for line in output.splitlines()
        if "SDK token: " in line
    )
    # Typed in another shell: none of the launcher's PLATFORM_DATA_DIR.
    shell_env = {k: v for k, v in launcher.env.items() if k != "PLATFORM_DATA_DIR"}
    done = subprocess.run(
        ["bash", "-c", printed],
        cwd=BASE_DIR,
        env=shell_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert " ERROR " not in output, output[-3000:]
