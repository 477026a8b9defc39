"""One settings file; every value comes from the environment (twelve-factor)."""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from platform_site.env import (
    data_dir_prepare,
    envbool,
    envint,
    envstr,
    envurl,
    local_url,
    persistent_secret,
    url_host_names,
)
from platform_site.http.proxies import trusted_proxies

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = BASE_DIR / ".platform"
DATA_DIR = Path(envstr("PLATFORM_DATA_DIR", str(DEFAULT_DATA_DIR))).resolve()
data_dir_prepare(DATA_DIR, sys.argv)  # a management command never makes a second one

SECRET_KEY = envstr("SECRET_KEY", "") or persistent_secret(DATA_DIR / "secret_key")
DEBUG = envbool("DEBUG", False)
# Absolute URLs handed out (signed data-store URLs, endpoint file URLs) start
# with this, never with the request's Host header; default: what `make run` prints.
PUBLIC_URL = envurl(
    "PLATFORM_PUBLIC_URL",
    local_url(envstr("HOST", "127.0.0.1"), envint("PORT", 8000)),
)
ALLOWED_HOSTS = (
    envstr("ALLOWED_HOSTS", "").split(",")
    if envstr("ALLOWED_HOSTS", "")
    else url_host_names(PUBLIC_URL)
)
CSRF_TRUSTED_ORIGINS = [o for o in envstr("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "platform_site",
    "accounts",
    "pipelines",
    "datastore",
    "executions",
    "deployments",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "platform_site.operations.metrics.RequestMetricsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "platform_site.http.middleware.ApiJsonErrorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "platform_site.http.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a lockout into accounts.throttle's answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "platform_site.urls"
WSGI_APPLICATION = "platform_site.wsgi.application"
ASGI_APPLICATION = "platform_site.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "platform_site.context_processors.public_url",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    }
]

# Each process borrows PostgreSQL connections from a pool of at most
# DB_POOL_SIZE (psycopg's pool, built into Django 5.1+; 0 turns it off), so the
# platform's total is bounded: `make run` prints it (runplatform.database_line).
DB_POOL_SIZE = envint("PLATFORM_DB_POOL_SIZE", 10)
DATABASES = {
    "default": dj_database_url.parse(
        envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'platform.sqlite3'}"),
        conn_max_age=envint("PLATFORM_DB_CONN_MAX_AGE", 0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_SIZE:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them instead
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_SIZE,
        # A caller waits this long for a free connection, then gets an error.
        "timeout": 10,
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Statements bound in the server (the hot path's, executions/services/run_ledger.py)
    # are prepared on their connection after this many runs; Django's own
    # quote their values and are never prepared. 0 turns it off (a pooler in
    # transaction mode older than PgBouncer 1.21).
    PREPARED_AFTER = envint("PLATFORM_DB_PREPARED_AFTER", 2)
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
        PREPARED_AFTER or None
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + IMMEDIATE transactions let web, worker and scheduler share the file.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Threads that keep a connection for the endpoint calls' database work
# (platform_site/clients/db_threads.py); part of DB_POOL_SIZE on PostgreSQL.
# SQLite has one writer at a time: more threads would only queue on its lock,
# and a writer that finds it taken sleeps for milliseconds.
DB_THREADS = envint(
    "PLATFORM_DB_THREADS",
    1 if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" else 4,
)

# The embedded Redis (started by `make run`) listens on a socket in the data dir.
REDIS_SOCKET = DATA_DIR / "redis.sock"
REDIS_URL = envstr("REDIS_URL", f"unix://{REDIS_SOCKET}")
EMBEDDED_REDIS = "REDIS_URL" not in os.environ

CELERY_BROKER_URL = REDIS_URL.replace("unix://", "redis+socket://", 1)
# Several platforms may share one Redis (tests, staging): each its own queue.
CELERY_TASK_DEFAULT_QUEUE = envstr("PLATFORM_QUEUE", "platform")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A Redis restart or outage of any length: keep reconnecting rather than exit.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Sign-in throttling (accounts/throttle.py): per user and per client address.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("PLATFORM_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=envint("PLATFORM_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "accounts.throttle.lockout_response"
AXES_VERBOSE = False  # no banner in every management command's output
# Forwarded headers count only from these peers (platform_site/http/proxies.py);
# axes then reads the address uvicorn settled on, and nothing else.
PLATFORM_TRUSTED_PROXIES = trusted_proxies(envstr("PLATFORM_TRUSTED_PROXIES", ""))
AXES_CLIENT_IP_CALLABLE = "platform_site.http.proxies.client_address"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

# Uploaded pipeline archives and endpoint payloads.
MAX_UPLOAD_BYTES = envint("PLATFORM_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
# Any larger body is refused before a view reads it: an upload plus its multipart framing.
MAX_REQUEST_BYTES = MAX_UPLOAD_BYTES + 1024 * 1024

# Platform behaviour.
PIPELINES_DIR = DATA_DIR / "pipelines"
EXECUTIONS_DIR = DATA_DIR / "executions"
DATASTORE_DIR = DATA_DIR / "datastore"
# Where the data store and execution files live (platform_site/clients/object_store.py):
# "local" (the folders above) or "s3", shared by every machine (README "Several machines").
STORAGE = envstr("PLATFORM_STORAGE", "local")
if STORAGE not in ("local", "s3"):
    raise ImproperlyConfigured(f"PLATFORM_STORAGE must be local or s3, not {STORAGE!r}")
S3_BUCKET = envstr("PLATFORM_S3_BUCKET", "")
if STORAGE == "s3" and not S3_BUCKET:
    raise ImproperlyConfigured("PLATFORM_STORAGE=s3 needs PLATFORM_S3_BUCKET")
S3_PREFIX = envstr("PLATFORM_S3_PREFIX", "")
S3_ENDPOINT_URL = envstr("PLATFORM_S3_ENDPOINT_URL", "")  # MinIO, Ceph...; empty: AWS
S3_REGION = envstr("PLATFORM_S3_REGION", "us-east-1")
ACCESS_TOKEN_LIFETIME_S = envint("PLATFORM_ACCESS_TOKEN_LIFETIME_S", 3600)
EXECUTION_TIMEOUT_S = envint("PLATFORM_EXECUTION_TIMEOUT_S", 3600)
EXECUTION_MEMORY_LIMIT_MIB = envint("PLATFORM_EXECUTION_MEMORY_LIMIT_MIB", 2048)
# Finished executions older than this many days are deleted by the sweeper
# (with their logs, files and metrics); 0 keeps everything.
RETENTION_DAYS = envint("PLATFORM_RETENTION_DAYS", 0)
HEARTBEAT_INTERVAL_S = envint("PLATFORM_HEARTBEAT_INTERVAL_S", 5)
HEARTBEAT_TIMEOUT_S = envint("PLATFORM_HEARTBEAT_TIMEOUT_S", 30)
# A worker or pod host silent this long is taken for dead: what it held is
# settled (executions/services/runners.py) and its pods move to another host.
RUNNER_LEASE_S = envint("PLATFORM_RUNNER_LEASE_S", 3)
# /healthz says "degraded" when a low-latency call has waited Pending longer
# than this, or the data dir's disk has less free space than this.
PENDING_ALERT_S = envint("PLATFORM_PENDING_ALERT_S", 30)
DISK_MIN_FREE_MIB = envint("PLATFORM_DISK_MIN_FREE_MIB", 256)
LONG_POLL_HOLD_S = envint("PLATFORM_LONG_POLL_HOLD_S", 20)

# The sandbox of user code (runtime/sandbox.py, README "Sandbox").
SANDBOX_ENABLED = envbool("PLATFORM_SANDBOX", True)
# A cgroup per zygote, execution and pod where the machine allows it
# (runtime/cgroups.py); off: per-process rlimits only.
CGROUPS_ENABLED = envbool("PLATFORM_CGROUPS", True)
# egress: a network namespace of its own reaching the internet, not the host's
# loopback (falls back to none without slirp4netns); none: no network; host:
# the host's (opt-in, warned about at startup and on /healthz).
SANDBOX_NETWORK = envstr("PLATFORM_SANDBOX_NETWORK", "egress")
if SANDBOX_NETWORK not in ("egress", "none", "host"):
    raise ImproperlyConfigured(
        f"PLATFORM_SANDBOX_NETWORK must be egress, none or host, got {SANDBOX_NETWORK!r}"
    )
SANDBOX_MAX_PROCESSES = envint("PLATFORM_SANDBOX_MAX_PROCESSES", 512)
SANDBOX_TMP_MIB = envint("PLATFORM_SANDBOX_TMP_MIB", 512)
SANDBOX_UID_BASE = envint("PLATFORM_SANDBOX_UID_BASE", 200_000)
EXECUTION_DISK_MIB = envint("PLATFORM_EXECUTION_DISK_MIB", 4096)
# What a low-latency pod's folder may hold (watched by the pod host; also
# the largest file its processes may write): past it the pod is recycled.
POD_DISK_MIB = envint("PLATFORM_POD_DISK_MIB", 4096)
ENDPOINT_HOLD_S = envint("PLATFORM_ENDPOINT_HOLD_S", 25)
# An endpoint's deployment and tokens are kept per process and forgotten at
# once on any change announced over Redis; this bounds an announcement lost.
ENDPOINT_CACHE_S = envint("PLATFORM_ENDPOINT_CACHE_S", 30)
# /endpoints/ is served by its own handler with only these (platform_site/asgi.py).
ENDPOINT_MIDDLEWARE = [
    "platform_site.http.middleware.LoopSecurityMiddleware",
    "platform_site.operations.metrics.RequestMetricsMiddleware",
    "platform_site.http.middleware.ApiJsonErrorsMiddleware",
]
# /metrics also answers this bearer token (for Prometheus); empty: staff access tokens only.
METRICS_TOKEN = envstr("PLATFORM_METRICS_TOKEN", "")
# Log lines stored per execution; past either cap a marker line, then nothing.
EXECUTION_LOG_MAX_LINES = envint("PLATFORM_EXECUTION_LOG_MAX_LINES", 100_000)
EXECUTION_LOG_MAX_BYTES = envint("PLATFORM_EXECUTION_LOG_MAX_BYTES", 16 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # /healthz answers 503 while the platform starts (the launcher waits on it):
    # an answer naming what is not up yet, not a server ERROR to log.
    "filters": {
        "healthz": {"()": "platform_site.operations.log_filters.HealthzUnavailable"}
    },
    "loggers": {"django.request": {"level": "ERROR", "filters": ["healthz"]}},
}
