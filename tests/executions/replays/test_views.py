from __future__ import annotations

from django.test import Client

from executions.models import Execution, ExecutionReplay
from executions.replays.views import PICK_TWO


def test_run_again_starts_a_copy_and_links_back(alice_client, make_execution):
    original = make_execution(number1=4)
    response = alice_client.post(f"/executions/{original.execution_id}/run-again/")
    replay = ExecutionReplay.objects.get().replay
    assert response.status_code == 302
    assert response["Location"] == f"/executions/{replay.execution_id}/"
    page = alice_client.get(response["Location"]).content.decode()
    assert 'id="replay-of"' in page and original.execution_id in page
    original_page = alice_client.get(f"/executions/{original.execution_id}/")
    assert replay.execution_id in original_page.content.decode()


def test_run_again_says_why_it_cannot(alice_client, make_execution):
    original = make_execution()
    original.pipeline.delete()
    response = alice_client.post(
        f"/executions/{original.execution_id}/run-again/", follow=True
    )
    assert "was deleted: it cannot run again" in response.content.decode()
    assert Execution.objects.count() == 1


def test_run_again_needs_a_post_a_session_and_a_real_id(
    client, alice_client, make_execution
):
    original = make_execution()
    url = f"/executions/{original.execution_id}/run-again/"
    assert alice_client.get(url).status_code == 405
    assert client.post(url).status_code == 302
    assert alice_client.post("/executions/nope-1/run-again/").status_code == 404
    assert Execution.objects.count() == 1


def test_the_list_offers_two_rows_to_compare(alice_client, make_execution):
    make_execution()
    html = alice_client.get("/executions/").content.decode()
    assert 'name="e"' in html and 'action="/executions/compare/"' in html


def test_compare_shows_both_side_by_side(alice_client, make_execution):
    a, b = make_execution(number1=1), make_execution(number1=2)
    response = alice_client.get(
        "/executions/compare/", {"e": [a.execution_id, b.execution_id]}
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert a.execution_id in html and b.execution_id in html
    assert 'class="differs"' in html
    assert "The logs are the same line for line." in html


def test_compare_wants_exactly_two(alice_client, make_execution):
    a = make_execution()
    response = alice_client.get(
        "/executions/compare/", {"e": [a.execution_id]}, follow=True
    )
    assert PICK_TWO in response.content.decode()
    missing = alice_client.get("/executions/compare/", {"e": [a.execution_id, "x-1"]})
    assert missing.status_code == 404


def test_compare_needs_a_session(client, db):
    assert client.get("/executions/compare/").status_code == 302


def test_the_api_replays_and_compares(api_client, make_execution):
    original = make_execution(number1=5)
    created = api_client.post(f"/api/v1/executions/{original.execution_id}/replay")
    assert created.status_code == 201
    body = created.json()
    assert body["replay_of"] == original.execution_id
    compared = api_client.get(
        "/api/v1/execution-comparisons",
        {"a": original.execution_id, "b": body["execution_id"]},
    ).json()
    assert [row["differs"] for row in compared["inputs"]] == [False, False, False]
    assert compared["first_log_difference"] is None


def test_the_api_refuses_a_replay_with_409(api_client, make_execution):
    original = make_execution()
    original.pipeline.delete()
    response = api_client.post(f"/api/v1/executions/{original.execution_id}/replay")
    assert response.status_code == 409
    assert response.json()["name"] == "ReplayRefused"
    assert Client().post("/api/v1/executions/x/replay").status_code == 401


def test_the_api_compare_refuses_odd_ids(api_client, db):
    response = api_client.get("/api/v1/execution-comparisons", {"a": "x\x00", "b": "y"})
    assert response.status_code == 400
    assert api_client.get("/api/v1/execution-comparisons").status_code == 400
