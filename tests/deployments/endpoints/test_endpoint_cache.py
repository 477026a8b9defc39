"""The endpoints a process keeps: read once, forgotten on any change, here or announced by another process."""

from __future__ import annotations

import time

import pytest

from deployments.endpoints import endpoint_cache as cache_module
from deployments.endpoints.access import (
    endpoint_rate_limit_set,
    endpoint_token_create,
    endpoint_token_revoke,
    endpoint_token_rotate,
)
from deployments.endpoints.endpoint_cache import CHANGED_CHANNEL, EndpointCache
from deployments.selectors import deployment_token
from deployments.services.deployments import deployment_delete, deployment_update
from platform_site.clients.redis_client import redis_client
from platform_site.http import notify
from tests.deployments.endpoints.conftest import call


def _wait_for(predicate, within_s: float = 5.0) -> bool:
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def cache():
    kept = EndpointCache()
    assert _wait_for(notify.listener().subscribed.is_set)
    return kept


def test_a_second_call_reads_no_row_to_open_the_endpoint(
    deployment, django_assert_num_queries
):
    assert call(deployment).status_code == 303
    path = deployment.endpoint_url_path
    with django_assert_num_queries(0):
        entry = cache_module.endpoint_cache.kept(path)
    assert entry is not None and entry.deployment.pk == deployment.pk


def test_it_keeps_digests_never_a_token(deployment, cache):
    named = endpoint_token_create(deployment=deployment, name="ci")
    entry = cache.load(deployment.endpoint_url_path)
    main = deployment_token(deployment)

    kept_text = repr(vars(entry)) + repr(entry.named)
    assert main not in kept_text and named.raw not in kept_text
    assert entry.token_name(main, now=named.token.created_at)[0] == "main token"
    assert entry.token_name(named.raw, now=named.token.created_at)[0] == "ci"
    assert entry.token_name("wrong" * 8, now=named.token.created_at) == (None, None)


def test_a_change_announced_by_another_process_forgets_what_was_kept(deployment, cache):
    path = deployment.endpoint_url_path
    cache.load(path)
    assert cache.kept(path) is not None

    # What another web machine's commit sends (endpoints_changed).
    redis_client().publish(CHANGED_CHANNEL, "1")

    assert _wait_for(lambda: cache.kept(path) is None)


def test_a_process_without_its_subscription_trusts_nothing_it_kept(
    deployment, cache, monkeypatch
):
    path = deployment.endpoint_url_path
    cache.load(path)
    assert cache.kept(path) is not None
    hub = notify.listener()
    monkeypatch.setattr(hub, "subscribed", type(hub.subscribed)())  # never set

    assert cache.kept(path) is None
    cache.entries.clear()
    assert cache.load(path) is not None  # read for the call, not kept
    assert path not in cache.entries


def test_an_entry_lives_at_most_endpoint_cache_s(deployment, cache, settings):
    path = deployment.endpoint_url_path
    cache.load(path)
    settings.ENDPOINT_CACHE_S = 0
    time.sleep(0.01)
    assert cache.kept(path) is None


def test_what_was_read_during_a_change_is_not_kept(deployment, cache, monkeypatch):
    path = deployment.endpoint_url_path
    read = cache_module._read

    def read_while_changed(p):
        entry = read(p)
        cache.changed.set()  # the announcement lands while the rows are read
        return entry

    monkeypatch.setattr(cache_module, "_read", read_while_changed)
    assert cache.load(path) is not None
    assert path not in cache.entries


def test_a_revoked_token_is_refused_at_the_next_call(deployment):
    named = endpoint_token_create(deployment=deployment, name="ci")
    assert call(deployment, named.raw).status_code == 303
    endpoint_token_revoke(token=named.token)
    assert call(deployment, named.raw).status_code == 401
    assert call(deployment).status_code == 303


def test_a_rotated_main_token_is_refused_at_the_next_call(deployment):
    old = deployment_token(deployment)
    assert call(deployment, old).status_code == 303
    new = endpoint_token_rotate(deployment=deployment)
    assert call(deployment, old).status_code == 401
    assert call(deployment, new).status_code == 303


def test_a_deleted_deployment_refuses_the_next_call(deployment):
    token = deployment_token(deployment)
    assert call(deployment, token).status_code == 303
    deployment_delete(deployment=deployment)
    assert call(deployment, token).status_code == 401


def test_disabling_refuses_the_next_call(deployment, alice):
    assert call(deployment).status_code == 303
    deployment_update(deployment=deployment, updated_by=alice, is_enabled=False)
    response = call(deployment)
    assert response.status_code == 403
    assert response.json()["name"] == "DeploymentDisabled"


def test_a_rate_limit_applies_from_the_next_call(deployment):
    assert call(deployment).status_code == 303
    endpoint_rate_limit_set(deployment=deployment, calls_per_minute=1)
    assert call(deployment).status_code == 303
    assert call(deployment).status_code == 429
