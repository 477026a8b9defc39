"""`make run`: migrate, create `admin`, start Redis (if embedded), web, worker, scheduler, sweeper.

Runs in the foreground and supervises its children (policy in
platform_site/operations/supervisor.py and the README). SIGINT/SIGTERM stop everything.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.services import ADMIN_USERNAME, admin_user_ensure
from pipelines.sandbox import sandbox_startup_lines
from platform_site.env import envint, envstr
from platform_site.operations import embedded_redis
from platform_site.operations.processes import BASE_DIR, platform_processes
from platform_site.operations.roles import (
    ROLES,
    ROLES_ENV,
    RolesError,
    node_name,
    parse_roles,
)
from platform_site.operations.supervisor import Output, Supervisor
from platform_site.signals import child_died
from runtime.sandbox import SandboxUnavailable

READY_TIMEOUT_S = 180.0
LAUNCHER = "platform"
# Any fixed number: every runplatform of one database migrates in turn.
MIGRATE_LOCK_ID = 7_310_013


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def public_url(host: str, port: int) -> str:
    """The URL to print: a wildcard bind is reached through localhost."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    if ":" in shown:  # an IPv6 address
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def child_env(base: dict[str, str]) -> dict[str, str]:
    """The children's environment: ours, pinned to the same data dir, unbuffered.

    REDIS_URL stays unset when Redis is embedded: every child then derives the
    same socket path from PLATFORM_DATA_DIR.
    """
    env = dict(base)
    # Used once, here, to create `admin`: no child needs it.
    env.pop("PLATFORM_ADMIN_PASSWORD", None)
    env["PLATFORM_DATA_DIR"] = str(settings.DATA_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    env["DJANGO_SETTINGS_MODULE"] = "platform_site.settings"
    return env


def database_line(*, processes: int) -> str:
    """What the database is, and how many connections the platform may open at most."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return f"database {db['ENGINE']}"
    pool = db.get("OPTIONS", {}).get("pool")
    if not pool:
        return (
            "database PostgreSQL, not pooled (PLATFORM_DB_POOL_SIZE=0): connections "
            "grow with concurrent requests"
        )
    size = pool["max_size"]
    return (
        f"database PostgreSQL: at most {processes * size} connections "
        f"({processes} processes x a pool of {size}, PLATFORM_DB_POOL_SIZE)"
    )


def login_line(*, password: str | None, from_env: bool) -> str:
    if password is None:
        return f"Log in as {ADMIN_USERNAME} (password set on first start)."
    if from_env:
        return f"Created user {ADMIN_USERNAME}, password from PLATFORM_ADMIN_PASSWORD."
    return (
        f"Created user {ADMIN_USERNAME} with password {password}"
        "  <- shown once, stored only hashed"
    )


def data_dir_prefix() -> str:
    """What a command printed for copying needs to reach this data dir ("" for the default)."""
    if settings.DEFAULT_DATA_DIR.resolve() == settings.DATA_DIR:
        return ""
    return f"PLATFORM_DATA_DIR={shlex.quote(str(settings.DATA_DIR))} "


def banner(*, url: str, password: str | None, from_env: bool) -> list[str]:
    return [
        "",
        f"Platform starting at {url}",
        f"  {login_line(password=password, from_env=from_env)}",
        f"  SDK token: {data_dir_prefix()}.venv/bin/python manage.py create_sdk_token {ADMIN_USERNAME}"
        f"  (or {url}/accounts/settings/)",
        f"  SDK: export CRAFT_AI_ENVIRONMENT_URL={url} CRAFT_AI_CONTROL_URL={url}"
        " CRAFT_AI_SDK_TOKEN=<token>",
        f"  Health: {url}/healthz   API docs: {url}/api/v1/docs   Ctrl-C stops everything.",
        "",
    ]


def announce_when_ready(
    *, url: str, output: Output, stopping: threading.Event, timeout_s: float
) -> None:
    """Poll /healthz (bounded) and say once when every part answers."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline and not stopping.is_set():
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=3) as resp:
                if resp.status == 200:
                    output.line(LAUNCHER, f"ready: every part answers at {url}")
                    return
        except urllib.error.HTTPError as exc:
            last = exc.read().decode("utf-8", errors="replace")[:300]
        except OSError as exc:
            last = str(exc)
        stopping.wait(0.5)
    if not stopping.is_set():
        output.line(LAUNCHER, f"not healthy after {timeout_s:.0f} s: {last}")


def migrate_and_ensure_admin() -> str | None:
    """Migrate, then create `admin`; one runplatform at a time per PostgreSQL database.

    Several machines may start together: Django's migrate is not safe to run
    twice at once, so a session advisory lock makes the others wait their turn.
    """
    env_password = os.environ.get("PLATFORM_ADMIN_PASSWORD") or None
    if connection.vendor != "postgresql":
        call_command("migrate", interactive=False, verbosity=0)
        return admin_user_ensure(password=env_password)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK_ID])
        try:
            call_command("migrate", interactive=False, verbosity=0)
            return admin_user_ensure(password=env_password)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK_ID])


def announce_death(name: str, pid: int) -> None:
    """Tell the apps (platform_site.signals.child_died): what a dead worker or pod host held is settled now."""
    try:
        child_died.send(sender=Supervisor, name=name, pid=pid)
    finally:
        connection.close()


class Command(BaseCommand):
    help = "Run the platform in the foreground (what `make run` calls): every role, or those named."

    def add_arguments(self, parser):
        parser.add_argument(
            "--roles",
            default=os.environ.get(ROLES_ENV, ""),
            help=f"comma-separated, among {','.join(ROLES)} (default: all)",
        )

    def handle(self, *args, **options):
        try:
            roles = parse_roles(options["roles"])
        except RolesError as exc:
            raise CommandError(str(exc)) from None
        port = envint("PORT", 8000)
        host = envstr("HOST", "127.0.0.1")
        url = public_url(host, port)
        output = Output(sys.stdout)
        if "web" in roles and not port_is_free(host, port):
            raise CommandError(
                f"Port {port} on {host} is already in use: set PORT to a free port."
            )
        if "worker" in roles:  # only workers run user code
            self._check_sandbox(output)
        liveness_dir = settings.DATA_DIR / "liveness"
        liveness_dir.mkdir(exist_ok=True)
        env = child_env(dict(os.environ))
        # /healthz (in web) says which parts this runplatform owns.
        env[ROLES_ENV] = ",".join(roles)
        supervisor = Supervisor(
            env=env,
            cwd=BASE_DIR,
            output=output,
            liveness_dir=liveness_dir,
            on_death=announce_death,
        )
        # From here on a signal only sets a flag, so the embedded Redis is
        # never left behind by a Ctrl-C during migrations. SIGHUP (terminal
        # closed) too: children live in their own sessions and would survive us.
        supervisor.install_signal_handlers(
            (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        )
        try:
            if settings.EMBEDDED_REDIS:
                self._start_redis(supervisor, output)
            output.line(LAUNCHER, f"data dir {settings.DATA_DIR}")
            output.line(LAUNCHER, f"roles {','.join(roles)} on {node_name()}")
            # whitenoise warns at every start when STATIC_ROOT is missing.
            settings.STATIC_ROOT.mkdir(parents=True, exist_ok=True)
            specs = platform_processes(
                port=port, host=host, python=sys.executable, roles=roles
            )
            output.line(LAUNCHER, database_line(processes=len(specs)))
            password = migrate_and_ensure_admin()
            output.line(LAUNCHER, "database migrated")
            env_password = os.environ.get("PLATFORM_ADMIN_PASSWORD") or None
            # The children have their own pools: ours would only hold connections.
            connection.close()
            if connection.vendor == "postgresql":
                connection.close_pool()
        except BaseException:
            supervisor.stop_all(grace_s=2)
            raise
        if supervisor.stop_signal is not None:
            supervisor.stop_all()
            return
        for spec in specs:
            supervisor.start(supervisor.add(spec.name, spec.argv, watched=True))
        if "web" not in roles:  # no URL to print or poll here
            if password is not None:  # this machine created `admin`
                output.line(
                    LAUNCHER,
                    login_line(password=password, from_env=env_password is not None),
                )
            sys.exit(supervisor.run())
        output.lines(
            LAUNCHER,
            banner(url=url, password=password, from_env=env_password is not None),
        )
        threading.Thread(
            target=announce_when_ready,
            kwargs={
                "url": url,
                "output": output,
                "stopping": supervisor.stopping,
                "timeout_s": READY_TIMEOUT_S,
            },
            daemon=True,
        ).start()
        sys.exit(supervisor.run())

    def _check_sandbox(self, output: Output) -> None:
        """Refuse to start when user code cannot be sandboxed, unless told to run without."""
        try:
            lines = sandbox_startup_lines()
        except SandboxUnavailable as exc:
            raise CommandError(str(exc)) from None
        for line in lines:
            output.line(LAUNCHER, line)

    def _start_redis(self, supervisor: Supervisor, output: Output) -> None:
        socket_path = settings.REDIS_SOCKET
        if embedded_redis.socket_answers(socket_path):
            raise CommandError(
                f"A Redis server already answers on {socket_path}: is another "
                "platform running with this PLATFORM_DATA_DIR?"
            )
        try:
            conf = embedded_redis.write_config(
                socket_path=socket_path, data_dir=settings.DATA_DIR
            )
        except embedded_redis.EmbeddedRedisError as exc:
            raise CommandError(str(exc)) from None
        child = supervisor.add(
            "redis", [embedded_redis.redis_executable(), str(conf)], stop_last=True
        )
        supervisor.start(child)
        try:
            embedded_redis.wait_ready(child.proc, socket_path=socket_path)
        except embedded_redis.EmbeddedRedisError as exc:
            raise CommandError(f"embedded Redis: {exc}") from None
        output.line(LAUNCHER, f"embedded Redis on {socket_path}")
