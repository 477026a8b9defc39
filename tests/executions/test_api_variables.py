from __future__ import annotations

from executions.models import EnvironmentVariable


def put(api_client, values):
    return api_client.put(
        "/api/v1/environment-variables",
        {"environment_variables": values},
        content_type="application/json",
    )


def test_it_creates_and_updates_several_variables(api_client):
    assert put(api_client, {"A": "1", "B": 6}).status_code == 200
    put(api_client, {"A": "2"})
    assert dict(EnvironmentVariable.objects.values_list("name", "value")) == {
        "A": "2",
        "B": "6",
    }


def test_it_names_an_invalid_variable_name(api_client):
    response = put(api_client, {"1BAD": "x"})
    assert response.status_code == 400
    assert "'1BAD'" in response.json()["message"]
    assert not EnvironmentVariable.objects.exists()


def test_it_lists_variables(api_client):
    put(api_client, {"B": "2", "A": "1"})
    assert api_client.get("/api/v1/environment-variables").json() == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
    ]


def test_it_deletes_a_variable(api_client):
    put(api_client, {"A": "1"})
    response = api_client.delete("/api/v1/environment-variables/A")
    assert response.json() == {"name": "A", "value": "1"}
    assert api_client.delete("/api/v1/environment-variables/A").status_code == 404
