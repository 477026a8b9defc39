"""Endpoint deployments kept per process: a call reads no row to find and open its endpoint.

An entry holds the deployment (pipeline and owner loaded), the digests of
its tokens and what its outputs answer. Any change to a deployment, a token
or a pipeline forgets every entry of this process at once and, with its
commit, of every process over Redis (`endpoints_changed`). A process that
is not subscribed to Redis cannot hear those announcements: it reads the
database for every call until it is again (then forgets everything it
kept). ENDPOINT_CACHE_S bounds the life of an entry whose announcement was
lost by its writer.

Secrets are kept as SHA-256 digests only; the main token's is compared in
constant time, named tokens are found by digest as the database index did.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from deployments.endpoints.tokens import token_decrypt, token_digest
from deployments.models import Deployment, EndpointToken, ExecutionRule
from executions.services.inputs import outputs_mapping_resolve
from pipelines.io_rules import MappingType
from platform_site.http import notify

CHANGED_CHANNEL = notify.channel_for("endpoints", "changed")
MAIN_TOKEN = ""  # the key of the main token's last use
# Last use is written at most this often per token, so a busy endpoint does
# not turn every call into a write.
LAST_USE_PRECISION = timedelta(seconds=60)
# How "Triggered by" names the deployment's own token (named tokens go by their name).
MAIN_TOKEN_NAME = "main token"


@dataclass(frozen=True)
class NamedToken:
    pk: object
    name: str
    expires_at: datetime | None


@dataclass(frozen=True)
class EndpointOutput:
    pipeline_name: str
    endpoint_name: str
    is_file: bool


@dataclass
class CachedEndpoint:
    deployment: Deployment
    main_digest: str | None
    named: dict[str, NamedToken]
    outputs: tuple[EndpointOutput, ...]
    loaded_at: float
    # token key (MAIN_TOKEN or a named token's pk) -> when its use was last written
    last_used: dict[object, datetime | None] = field(default_factory=dict)

    def token_name(self, raw: str, *, now: datetime) -> tuple[str | None, object]:
        """(the name of the token `raw` opens this endpoint with, its key); (None, None) if none."""
        digest = token_digest(raw)
        if self.main_digest is not None and hmac.compare_digest(
            digest, self.main_digest
        ):
            return MAIN_TOKEN_NAME, MAIN_TOKEN
        named = self.named.get(digest)
        if named is None or (named.expires_at is not None and named.expires_at <= now):
            return None, None
        return named.name, named.pk

    def use_to_record(self, key: object, *, now: datetime) -> bool:
        """True at most once per LAST_USE_PRECISION per token: then its use is written."""
        last = self.last_used.get(key)
        if last is not None and last > now - LAST_USE_PRECISION:
            return False
        self.last_used[key] = now
        return True


class EndpointCache:
    def __init__(self) -> None:
        self.entries: dict[str, CachedEndpoint] = {}
        self.lock = threading.Lock()
        self.changed: threading.Event | None = None

    def _trusted(self) -> bool:
        """Whether kept entries may answer; forgets them all after an announced change."""
        hub = notify.listener()
        if self.changed is None:
            with self.lock:
                if self.changed is None:
                    self.changed = hub.watch(CHANGED_CHANNEL, wait=False)
        if not hub.subscribed.is_set():
            return False
        if self.changed.is_set():
            with self.lock:
                # Cleared before forgetting: a change announced meanwhile sets it again.
                self.changed.clear()
                self.entries.clear()
        return True

    def kept(self, path: str) -> CachedEndpoint | None:
        """The entry of `path` if kept and trusted; None means: load() it."""
        if not self._trusted():
            return None
        entry = self.entries.get(path)
        if (
            entry is None
            or time.monotonic() - entry.loaded_at > settings.ENDPOINT_CACHE_S
        ):
            return None
        return entry

    def load(self, path: str) -> CachedEndpoint | None:
        """Read the endpoint at `path` (None: there is none) and keep it when trusted."""
        trusted = self._trusted()
        entry = _read(path)
        if entry is not None and trusted:
            with self.lock:
                # A change announced during the read makes what was read stale.
                if not (self.changed and self.changed.is_set()):
                    self.entries[path] = entry
        return entry

    def forget(self) -> None:
        with self.lock:
            self.entries.clear()


endpoint_cache = EndpointCache()


def _read(path: str) -> CachedEndpoint | None:
    deployment = (
        Deployment.objects.select_related("pipeline", "created_by")
        .filter(endpoint_url_path=path, execution_rule=ExecutionRule.ENDPOINT)
        .first()
    )
    if deployment is None:
        return None
    now = timezone.now()
    tokens = EndpointToken.objects.filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        deployment=deployment,
        revoked_at__isnull=True,
    ).only("pk", "name", "digest", "expires_at", "last_used_at")
    main = token_decrypt(deployment.endpoint_token_encrypted)
    outputs = outputs_mapping_resolve(
        pipeline=deployment.pipeline,
        outputs_mapping=deployment.outputs_mapping,
        source=MappingType.ENDPOINT,
    )
    named = {t.digest: NamedToken(t.pk, t.name, t.expires_at) for t in tokens}
    return CachedEndpoint(
        deployment=deployment,
        main_digest=token_digest(main) if main else None,
        named=named,
        outputs=tuple(
            EndpointOutput(
                pipeline_name=o["name"],
                endpoint_name=(o["mapping_value"] or {}).get("endpoint_output_name")
                or o["name"],
                is_file=o["data_type"] == "file",
            )
            for o in outputs
            if o["mapping_type"] == MappingType.ENDPOINT
        ),
        loaded_at=time.monotonic(),
        last_used={
            MAIN_TOKEN: deployment.main_token_last_used_at,
            **{t.pk: t.last_used_at for t in tokens},
        },
    )


def endpoint_use_record(entry: CachedEndpoint, key: object) -> None:
    """Write that a token was used (called when use_to_record said so)."""
    now = timezone.now()
    if key == MAIN_TOKEN:
        Deployment.objects.filter(pk=entry.deployment.pk).update(
            main_token_last_used_at=now
        )
    else:
        EndpointToken.objects.filter(pk=str(key)).update(last_used_at=now)


def endpoints_changed(**_: object) -> None:
    """Forget kept endpoints here now, and in every process once the change commits."""
    endpoint_cache.forget()
    transaction.on_commit(lambda: notify.publish(CHANGED_CHANNEL))
