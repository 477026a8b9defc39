"""SDK tokens scoped to one execution: what user code gets to record its metrics.

The token is the execution's id signed with the platform's secret key (an
HMAC, checked in constant time): nothing is stored, so handing one to every
execution costs no database write. Exchanged at /auth/refresh, it yields an
access token whose claims name the execution instead of a user, so every
user route refuses it (they require `tid`), and the metric routes accept it
only while the execution runs.
"""

from __future__ import annotations

from django.core import signing

from accounts.access_tokens import access_token_decode, access_token_encode
from executions.models import FINAL_STATUSES, Execution

EXECUTION_TOKEN_PREFIX = "exe_"
SCOPE = "execution-metrics"
SALT = "metrics.execution-sdk-token"


def execution_sdk_token_issue(*, execution: Execution) -> str:
    """The token of this execution: its id, signed."""
    return EXECUTION_TOKEN_PREFIX + signing.Signer(salt=SALT).sign(str(execution.pk))


def _running(queryset):
    return queryset.exclude(status__in=FINAL_STATUSES)


def execution_access_token_issue(raw: str) -> str | None:
    """A short-lived access token for a running execution's token, or None."""
    try:
        execution_pk = signing.Signer(salt=SALT).unsign(
            raw.removeprefix(EXECUTION_TOKEN_PREFIX)
        )
    except signing.BadSignature:
        return None
    if not _running(Execution.objects.filter(pk=execution_pk)).exists():
        return None
    return access_token_encode({"eid": execution_pk, "scope": SCOPE})


def execution_for_access_token(access_token: str) -> Execution | None:
    """The running execution an execution-scoped access token stands for, or None."""
    claims = access_token_decode(access_token, required=("eid", "scope"))
    if claims is None or claims["scope"] != SCOPE:
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
            # DeploymentMode.LOW_LATENCY (deployments come after executions).
            deployment__mode="low_latency",
        )
        .first()
    )
