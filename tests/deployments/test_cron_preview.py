"""The schedule preview fragment (views.deployments.cron_preview)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

URL = "/deployments/cron-preview/"
BAD_SAMPLES = ["*", "100 100 100 100 100", "* * * * * *", "1 2 3", "*/0 * * * *"]


def test_it_describes_every_minute(alice_client):
    r = alice_client.post(URL, {"schedule": "* * * * *"})
    assert r.status_code == 200
    assert b'id="cron-description">Every minute<' in r.content


@pytest.mark.parametrize("schedule", BAD_SAMPLES)
def test_it_rejects_bad_samples(alice_client, schedule):
    r = alice_client.post(URL, {"schedule": schedule})
    assert r.status_code == 200
    assert b'id="cron-preview-error"' in r.content
    assert b"schedule" in r.content


def test_it_hints_instead_of_refusing_before_anything_is_typed(alice_client):
    r = alice_client.post(URL, {"schedule": "  "})
    assert b'id="cron-preview-hint"' in r.content
    assert b"required" not in r.content


def test_it_names_the_cron_field_in_its_own_words(alice_client):
    r = alice_client.post(URL, {"schedule": "61 * * * *"})
    assert b"the minute field is 61, outside its range 0-59" in r.content
    assert b"not acceptable" not in r.content


def test_it_previews_advanced_whatever_the_hidden_basic_value(alice_client):
    data = {"schedule_mode": "advanced", "schedule": "30 9 * * 1-5", "basic_value": "0"}
    r = alice_client.post(URL, data)
    assert b'id="cron-preview-error"' not in r.content
    assert b"30 9 * * 1-5" in r.content


@time_machine.travel(datetime(2025, 1, 1, 12, 0, tzinfo=UTC), tick=False)
def test_it_handles_feb_29(alice_client):
    r = alice_client.post(URL, {"schedule": "0 0 29 2 *"})
    assert b"2028-02-29 00:00:00 UTC" in r.content
    assert b"2032-02-29 00:00:00 UTC" in r.content


def test_it_reports_an_expression_that_never_matches(alice_client):
    r = alice_client.post(URL, {"schedule": "0 0 30 2 *"})
    assert b'id="cron-preview-error"' in r.content
    assert b"never matches" in r.content


@time_machine.travel(datetime(2025, 1, 1, 12, 0, tzinfo=UTC), tick=False)
def test_it_lists_the_next_five_runs(alice_client):
    r = alice_client.post(URL, {"schedule": "*/15 * * * *"})
    html = r.content.decode()
    assert html.count('class="cron-preview-date"') == 5
    assert "2025-01-01 12:15:00 UTC" in html
    assert "2025-01-01 13:15:00 UTC" in html
    assert "15\xa0minutes from now" in html


def test_it_converts_the_basic_mode(alice_client):
    data = {"schedule_mode": "basic", "basic_value": "2", "basic_unit": "hours"}
    r = alice_client.post(URL, data)
    assert b"<code>0 */2 * * *</code>" in r.content
    assert b"Every 2 hours" in r.content


def test_it_explains_a_basic_value_cron_cannot_say(alice_client):
    data = {"schedule_mode": "basic", "basic_value": "3", "basic_unit": "weeks"}
    r = alice_client.post(URL, data)
    assert b'id="cron-preview-error"' in r.content


def test_it_rejects_get(alice_client):
    assert alice_client.get(URL).status_code == 405


def test_it_requires_login(client, db):
    r = client.post(URL, {"schedule": "* * * * *"})
    assert r.status_code == 302
