"""SDK tokens scoped to one execution: what user code gets to record its metrics.

The raw token lives only in the execution's environment; we keep its digest.
Exchanged at /auth/refresh, it yields an access token whose claims name the
execution instead of a user, so every user route refuses it (they require
`tid`), and the metric routes accept it only while the execution runs.
"""

from __future__ import annotations

import hashlib
import secrets
import time

import jwt
from django.conf import settings

from accounts.services import JWT_ALGORITHM
from deployments.models import DeploymentMode
from executions.models import FINAL_STATUSES, Execution
from metrics.models import ExecutionSdkToken

EXECUTION_TOKEN_PREFIX = "exe_"
SCOPE = "execution-metrics"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def execution_sdk_token_issue(*, execution: Execution) -> str:
    """A fresh token for this execution; a retried execution replaces its old one."""
    raw = EXECUTION_TOKEN_PREFIX + secrets.token_urlsafe(32)
    ExecutionSdkToken.objects.update_or_create(
        execution=execution, defaults={"digest": _digest(raw)}
    )
    return raw


def _running(queryset):
    return queryset.exclude(status__in=FINAL_STATUSES)


def execution_access_token_issue(*, raw: str) -> str | None:
    """A short-lived access token for a running execution's token, or None.

    Lookup by digest through a unique index: no byte-by-byte comparison of the secret.
    """
    token = (
        ExecutionSdkToken.objects.select_related("execution")
        .filter(digest=_digest(raw))
        .first()
    )
    if token is None or token.execution.is_final:
        return None
    now = int(time.time())
    claims = {
        "eid": str(token.execution_id),
        "scope": SCOPE,
        "iat": now,
        "exp": now + settings.ACCESS_TOKEN_LIFETIME_S,
    }
    return jwt.encode(claims, settings.SECRET_KEY, algorithm=JWT_ALGORITHM)


def execution_for_access_token(access_token: str) -> Execution | None:
    """The running execution an execution-scoped access token stands for, or None."""
    try:
        claims = jwt.decode(
            access_token,
            settings.SECRET_KEY,
            algorithms=[JWT_ALGORITHM],
            options={"require": ["exp", "iat", "eid", "scope"]},
        )
    except jwt.PyJWTError:
        return None
    if claims["scope"] != SCOPE:
        return None
    return _running(Execution.objects.filter(pk=claims["eid"])).first()


def pod_sibling(execution: Execution, execution_id: str) -> Execution | None:
    """A running execution of the same low-latency deployment, or None.

    Parallel executions share one pod process, hence one environment and one
    token: the client tells them apart by the execution id it sends (read from
    the context variable), so any running execution of that pod's deployment
    may be named. Elastic executions each have their own token and get None.
    """
    if execution.deployment_id is None:
        return None
    return (
        _running(Execution.objects.select_related("deployment"))
        .filter(
            execution_id=execution_id,
            deployment_id=execution.deployment_id,
            deployment__mode=DeploymentMode.LOW_LATENCY,
        )
        .first()
    )
