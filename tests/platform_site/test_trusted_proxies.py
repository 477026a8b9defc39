"""Forwarded headers count only from PLATFORM_TRUSTED_PROXIES, through the real web server.

uvicorn reads X-Forwarded-For before Django does, so the lock-out is tried
against `python -m platform_site.operations.web` over HTTP, the way an attacker on the
machine (or in a sandbox with the host's network) would.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.core.exceptions import ImproperlyConfigured

from platform_site.http.proxies import trusted_proxies, uvicorn_proxy_options
from tests.e2e.live import LivePlatform, admin_dsn, free_port

LOGIN = "/accounts/login/"
LIMIT = 3
START_TIMEOUT_S = 60
FORGED = "10.9.9.7"


def test_it_trusts_no_proxy_by_default():
    assert trusted_proxies("") == []
    assert uvicorn_proxy_options([]) == {
        "proxy_headers": False,
        "forwarded_allow_ips": [],
    }


def test_it_reads_addresses_and_networks():
    assert trusted_proxies(" 10.0.0.5, 10.1.2.3/8 ,::1,") == [
        "10.0.0.5",
        "10.0.0.0/8",
        "::1",
    ]


@pytest.mark.parametrize("raw", ["*", "proxy.example.org", "10.0.0.0/33"])
def test_it_refuses_anything_but_addresses_naming_the_variable(raw):
    with pytest.raises(ImproperlyConfigured, match="PLATFORM_TRUSTED_PROXIES"):
        trusted_proxies(raw)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 after a sign-in is the answer itself


def login(url: str, username: str, password: str, forwarded_for: str = "") -> int:
    """Sign in as a browser would (CSRF cookie, then the form); the status code."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), _NoRedirect
    )
    opener.open(f"{url}{LOGIN}", timeout=10).read()
    token = next(cookie.value for cookie in jar if cookie.name == "csrftoken")
    form = {"username": username, "password": password, "csrfmiddlewaretoken": token}
    request = urllib.request.Request(
        f"{url}{LOGIN}",
        data=urllib.parse.urlencode(form).encode(),
        headers={"X-Forwarded-For": forwarded_for} if forwarded_for else {},
    )
    try:
        with opener.open(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def lock_out_this_address(url: str) -> None:
    """Failures from the test's own address (127.0.0.1) under several names; the last one locks."""
    answers = [login(url, f"someone-{i}", "wrong") for i in range(LIMIT)]
    assert answers == [200] * (LIMIT - 1) + [429]


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Iterator[LivePlatform]:
    """A database of its own with alice; the web server alone is started per test."""
    base_url = os.environ.get(
        "DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/platform"
    )
    if not base_url.startswith("postgres"):
        pytest.skip("live tests need DATABASE_URL pointing at PostgreSQL")
    db_name = f"platform_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    data_dir = tmp_path_factory.mktemp("proxies")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"{base_url.rpartition('/')[0]}/{db_name}",
        "PLATFORM_DATA_DIR": str(data_dir),
        "PLATFORM_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PLATFORM_LOGIN_FAILURE_LIMIT": str(LIMIT),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("PLATFORM_TRUSTED_PROXIES", None)
    env.pop("FORWARDED_ALLOW_IPS", None)
    platform = LivePlatform(
        url=f"http://127.0.0.1:{port}",
        env=env,
        data_dir=data_dir,
        database_url=env["DATABASE_URL"],
        log_dir=Path(data_dir),
    )
    try:
        platform.manage("migrate", "--noinput")
        platform.manage(
            "shell",
            "-c",
            "from django.contrib.auth import get_user_model; "
            "get_user_model().objects.create_user('alice', 'a@example.org', 'password-alice')",
        )
        yield platform
    finally:
        platform.stop_all()
        with psycopg.connect(admin_dsn(base_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


@pytest.fixture
def web(database, request) -> Iterator[LivePlatform]:
    """The web process with PLATFORM_TRUSTED_PROXIES as the test's `trusted` param ('' unless given)."""
    trusted = getattr(request, "param", "")
    database.env["PLATFORM_TRUSTED_PROXIES"] = trusted
    database.manage("axes_reset")
    database.start("web")
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{database.url}{LOGIN}", timeout=5).read()
            break
        assert database.procs["web"].poll() is None, (
            database.log_dir / "web.log"
        ).read_text()[-3000:]
        assert time.monotonic() < deadline, "the web server did not start"
        time.sleep(0.2)
    yield database
    database.stop("web")


@pytest.mark.e2e
def test_a_forged_forwarded_for_stays_locked_out(web):
    lock_out_this_address(web.url)

    forged = login(web.url, "alice", "password-alice", forwarded_for=FORGED)
    plain = login(web.url, "alice", "password-alice")

    assert forged == 429
    assert plain == 429
    assert web.sql("SELECT DISTINCT host(ip_address) FROM axes_accessattempt") == [
        ("127.0.0.1",)
    ]


@pytest.mark.e2e
@pytest.mark.parametrize("web", ["127.0.0.1"], indirect=True)
def test_a_trusted_proxy_speaks_for_its_client(web):
    lock_out_this_address(web.url)  # the proxy's own address, with no header

    through_proxy = login(web.url, "alice", "password-alice", forwarded_for=FORGED)
    assert login(web.url, "bob", "wrong", forwarded_for="10.9.9.8") == 200

    assert through_proxy == 302
    assert ("10.9.9.8",) in web.sql("SELECT host(ip_address) FROM axes_accessattempt")
