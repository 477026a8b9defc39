"""Two sweepers (on two machines) reap each lost execution exactly once: two real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from executions.models import Execution, ExecutionStatus
from platform_site.operations.processes import BASE_DIR

LOST = 40
REAP_AT = """
import os, sys, time
import django
django.setup()
from executions.services.sweeping import executions_reap_lost
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
print(executions_reap_lost())
"""


def database_url() -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db(transaction=True)
def test_it_reaps_each_lost_execution_once_across_two_processes(
    make_execution, tmp_path
):
    if connection.vendor != "postgresql":
        pytest.skip("two processes on one database need PostgreSQL")
    with mock.patch("platform_site.celery.app.send_task"):
        pks = [make_execution().pk for _ in range(LOST)]
    long_ago = timezone.now() - timedelta(seconds=settings.HEARTBEAT_TIMEOUT_S + 60)
    Execution.objects.filter(pk__in=pks).update(
        status=ExecutionStatus.RUNNING, started_at=long_ago, heartbeat_at=long_ago
    )
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "PLATFORM_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "platform_site.settings",
    }
    start_at = str(time.time() + 3)  # both past their imports, then at once
    sweepers = [
        subprocess.Popen(
            [sys.executable, "-c", REAP_AT, start_at],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    counts = [int(proc.communicate(timeout=60)[0].split()[-1]) for proc in sweepers]
    print(f"\ntwo sweepers reaped {counts} of {LOST} lost executions")

    assert sum(counts) == LOST
    assert (
        Execution.objects.filter(pk__in=pks, status=ExecutionStatus.ERROR).count()
        == LOST
    )
