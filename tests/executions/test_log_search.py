"""The execution page's log search box and text download (views.execution_logs, execution_logs_text)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from executions.models import LogLine


@pytest.fixture
def logged(make_execution):
    execution = make_execution()
    for seq, message in enumerate(
        ["epoch 1 loss=0.9", "Warning: slow", "epoch 2 loss=0.4"], 1
    ):
        LogLine.objects.create(
            execution=execution,
            seq=seq,
            timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
            stream="stdout",
            message=message,
        )
    return execution


def test_it_finds_lines_containing_the_text(alice_client, logged):
    response = alice_client.get(
        f"/executions/{logged.execution_id}/logs/?q=LOSS",
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert "2 lines containing" in body
    assert "epoch 1 loss=0.9" in body and "Warning: slow" not in body


def test_it_says_when_nothing_matches(alice_client, logged):
    response = alice_client.get(
        f"/executions/{logged.execution_id}/logs/?q=nothing",
        headers={"HX-Request": "true"},
    )
    assert "No line contains" in response.content.decode()


def test_it_searches_on_the_page_without_javascript(alice_client, logged):
    response = alice_client.get(f"/executions/{logged.execution_id}/?q=warning")
    assert "1 line containing" in response.content.decode()


def test_it_downloads_the_whole_log_as_text(alice_client, logged):
    response = alice_client.get(f"/executions/{logged.execution_id}/logs.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert (
        f'filename="{logged.execution_id}.log.txt"' in response["Content-Disposition"]
    )
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines() == [
        "2026-01-02T03:04:05.000000Z stdout epoch 1 loss=0.9",
        "2026-01-02T03:04:05.000000Z stdout Warning: slow",
        "2026-01-02T03:04:05.000000Z stdout epoch 2 loss=0.4",
    ]


def test_it_asks_anonymous_visitors_to_log_in(client, logged):
    assert client.get(f"/executions/{logged.execution_id}/logs.txt").status_code == 302


def test_it_404s_an_unknown_execution(alice_client, db):
    assert alice_client.get("/executions/nope-1/logs.txt").status_code == 404


def test_it_refuses_post(alice_client, logged):
    assert (
        alice_client.post(f"/executions/{logged.execution_id}/logs.txt").status_code
        == 405
    )
