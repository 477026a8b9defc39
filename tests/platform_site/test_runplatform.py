from __future__ import annotations

import io
import socket

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

import pipelines.sandbox
from platform_site.management.commands import runplatform
from platform_site.operations.supervisor import Output
from runtime.sandbox import Sandbox


def test_it_sees_a_port_in_use():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert runplatform.port_is_free("127.0.0.1", port) is False


def test_it_sees_a_free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert runplatform.port_is_free("127.0.0.1", port) is True


def test_it_prints_localhost_for_a_wildcard_bind():
    assert runplatform.public_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert runplatform.public_url("10.0.0.5", 9000) == "http://10.0.0.5:9000"
    assert runplatform.public_url("::1", 9000) == "http://[::1]:9000"


def test_it_pins_children_to_the_same_data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    env = runplatform.child_env({"PATH": "/usr/bin"})
    assert env["PLATFORM_DATA_DIR"] == str(tmp_path)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert "REDIS_URL" not in env


def test_it_prints_a_generated_password_once():
    lines = runplatform.banner(
        url="http://127.0.0.1:8000", password="s3cret-pw", from_env=False
    )
    text = "\n".join(lines)
    assert "admin with password s3cret-pw" in text
    assert "manage.py create_sdk_token admin" in text
    assert "CRAFT_AI_ENVIRONMENT_URL=http://127.0.0.1:8000" in text
    assert "CRAFT_AI_CONTROL_URL=http://127.0.0.1:8000" in text


def test_it_never_prints_a_password_from_the_environment():
    lines = runplatform.banner(
        url="http://127.0.0.1:8000", password="from-env-pw", from_env=True
    )
    assert "from-env-pw" not in "\n".join(lines)


def test_it_prints_no_password_on_later_starts():
    text = "\n".join(
        runplatform.banner(url="http://127.0.0.1:8000", password=None, from_env=False)
    )
    assert "password set on first start" in text


def test_it_keeps_the_admin_password_from_every_child(settings):
    env = runplatform.child_env(
        {"PLATFORM_ADMIN_PASSWORD": "s3cret", "PATH": "/usr/bin"}
    )
    assert "PLATFORM_ADMIN_PASSWORD" not in env
    assert env["PATH"] == "/usr/bin"


def test_it_refuses_to_start_without_bubblewrap(settings, monkeypatch):
    monkeypatch.setattr(
        pipelines.sandbox, "get_sandbox", lambda: Sandbox(bwrap="no-such-bwrap")
    )
    with pytest.raises(CommandError, match="apt-get install bubblewrap"):
        runplatform.Command()._check_sandbox(Output(io.StringIO()))


def test_it_warns_three_times_when_the_sandbox_is_off(settings):
    settings.SANDBOX_ENABLED = False
    out = io.StringIO()
    runplatform.Command()._check_sandbox(Output(out))
    assert out.getvalue().count("PLATFORM_SANDBOX=off") == 3


def test_it_refuses_an_unknown_role_before_starting_anything():
    with pytest.raises(CommandError, match="Unknown role 'gpu'"):
        call_command("runplatform", roles="gpu")
