from __future__ import annotations

import pytest
from django.test import Client
from openapi_spec_validator import validate

from deployments.selectors import deployment_token
from deployments.services.deployments import deployment_create
from tests.deployments.endpoints.conftest import make_deployment
from tests.deployments.factories import make_pipeline, unique


@pytest.fixture
def renamed(alice):
    pipeline = make_pipeline(
        inputs=[
            {"name": "number1", "data_type": "number", "is_required": True},
            {"name": "doc", "data_type": "file"},
            {"name": "label", "data_type": "string", "default_value": "x"},
            {"name": "secret", "data_type": "string"},
        ],
        outputs=[
            {"name": "number3", "data_type": "number"},
            {"name": "report", "data_type": "file"},
        ],
    )
    return deployment_create(
        pipeline=pipeline,
        name=unique("d"),
        execution_rule="endpoint",
        inputs_mapping=[
            {"pipeline_input_name": "number1", "endpoint_input_name": "a"},
            {"pipeline_input_name": "secret", "constant_value": "s"},
        ],
        outputs_mapping=[
            {"pipeline_output_name": "number3", "endpoint_output_name": "result"}
        ],
        created_by=alice,
    )


def document(deployment) -> dict:
    response = Client(
        headers={"Authorization": f"EndpointToken {deployment_token(deployment)}"}
    ).get(f"/endpoints/{deployment.endpoint_url_path}/openapi.json")
    assert response.status_code == 200
    return response.json()


def test_it_is_a_valid_openapi_document(renamed):
    validate(document(renamed))


def test_it_names_inputs_and_outputs_as_callers_send_them(renamed):
    doc = document(renamed)
    post = doc["paths"][f"/endpoints/{renamed.endpoint_url_path}"]["post"]
    schema = post["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(schema["properties"]) == {"a", "doc", "label"}  # not the constant
    assert schema["properties"]["a"] == {"type": "number"}
    assert schema["properties"]["doc"] == {"type": "string", "format": "binary"}
    assert schema["properties"]["label"]["default"] == "x"
    assert schema["required"] == ["a"]
    outputs = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert outputs["properties"]["outputs"]["properties"]["result"] == {
        "type": "number"
    }
    assert set(post["responses"]) >= {"200", "303", "400", "401", "429"}
    assert "Location" in post["responses"]["303"]["headers"]


def test_without_files_the_body_is_json(alice):
    deployment = make_deployment(alice)
    post = document(deployment)["paths"][f"/endpoints/{deployment.endpoint_url_path}"]
    assert list(post["post"]["requestBody"]["content"]) == ["application/json"]


def test_callers_need_the_endpoint_token(renamed):
    url = f"/endpoints/{renamed.endpoint_url_path}/openapi.json"
    assert Client().get(url).status_code == 401
    wrong = Client(headers={"Authorization": "EndpointToken " + "x" * 20})
    assert wrong.get(url).status_code == 401
    assert wrong.get("/endpoints/nope/openapi.json").status_code == 401


def test_a_session_is_not_enough_on_the_endpoint_route(alice_client, renamed):
    url = f"/endpoints/{renamed.endpoint_url_path}/openapi.json"
    assert alice_client.get(url).status_code == 401


def test_signed_in_users_get_it_and_the_interactive_page(alice_client, renamed):
    doc = alice_client.get(f"/deployments/{renamed.name}/openapi.json").json()
    validate(doc)
    html = alice_client.get(f"/deployments/{renamed.name}/api-docs/").content.decode()
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in html
    assert 'id="endpoint-openapi"' in html
    assert "cdn" not in html.lower()


def test_the_pages_need_a_session_and_an_endpoint(client, alice_client, renamed):
    assert client.get(f"/deployments/{renamed.name}/api-docs/").status_code == 302
    assert alice_client.get("/deployments/nope/api-docs/").status_code == 404
    assert (
        alice_client.post(f"/deployments/{renamed.name}/openapi.json").status_code
        == 405
    )
