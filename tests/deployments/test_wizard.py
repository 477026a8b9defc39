"""The Deploy wizard (views.wizard.deploy_wizard): steps, validation, creation."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from deployments.forms import EVERY_TOO_SMALL
from deployments.models import Deployment
from deployments.services.deployments import deployment_create
from pipelines.models import Pipeline, PipelineStatus

URL = "/pipelines/adder/deploy/"
GENERAL = {"name": "adder-api", "description": "", "mode": "elastic"}
TRIGGER = {
    "execution_rule": "endpoint",
    "schedule_mode": "basic",
    "basic_value": "15",
    "basic_unit": "minutes",
    "basic_time": "00:00",
    "basic_weekday": "1",
    "basic_day": "1",
    "schedule": "",
}
ENDPOINT_MAPPING = {
    "in0_source": "endpoint",
    "in0_endpoint": "a",
    "in0_required": "yes",
    "in0_default": "",
    "in1_source": "endpoint",
    "in1_endpoint": "label",
    "in1_required": "no",
    "in1_default": "",
    "out0_source": "endpoint",
    "out0_endpoint": "total",
}
PERIODIC = {**TRIGGER, "execution_rule": "periodic", "basic_value": "1"}
PERIODIC_MAPPING = {
    "in0_source": "constant",
    "in0_constant": "3",
    "in1_source": "is_null",
    "out0_source": "is_null",
}


@pytest.fixture
def pipeline(db) -> Pipeline:
    return Pipeline.objects.create(
        name="adder",
        function_path="src/adder.py",
        function_name="add",
        status=PipelineStatus.READY,
        inputs=[
            {"name": "a", "data_type": "number", "is_required": True},
            {"name": "label", "data_type": "string", "is_required": False},
        ],
        outputs=[{"name": "total", "data_type": "number"}],
    )


def post(client, step: str, action: str = "next", **data):
    return client.post(URL, {"step": step, "action": action, **data})


def test_it_shows_the_first_step(alice_client, pipeline):
    r = alice_client.get(URL)
    assert r.status_code == 200
    assert b"Execution mode" in r.content
    assert b"Low latency" in r.content and b"Elastic" in r.content


def test_it_rejects_a_bad_name(alice_client, pipeline):
    r = post(alice_client, "general", **{**GENERAL, "name": "Bad Name!"})
    assert r.status_code == 422
    assert b'id="name-error"' in r.content
    assert b"use lowercase letters, digits and dashes" in r.content


def test_it_rejects_a_taken_name(alice_client, alice, pipeline):
    deployment_create(
        pipeline=pipeline, name="adder-api", execution_rule="endpoint", created_by=alice
    )
    r = post(alice_client, "general", **GENERAL)
    assert r.status_code == 422
    assert "already exists" in r.content.decode()


def test_it_goes_to_the_trigger_step_for_elastic(alice_client, pipeline):
    r = post(alice_client, "general", **GENERAL)
    assert r.status_code == 200
    assert b'data-step="trigger"' in r.content
    assert b'<input type="hidden" name="name" value="adder-api">' in r.content


def test_it_asks_execution_settings_for_low_latency(alice_client, pipeline):
    r = post(alice_client, "general", **{**GENERAL, "mode": "low_latency"})
    assert b'data-step="execution"' in r.content
    assert b"Machine total RAM" in r.content


def test_it_requires_the_parallelism_of_parallel_executions(alice_client, pipeline):
    data = {**GENERAL, "mode": "low_latency", "management": "parallel"}
    r = post(
        alice_client, "execution", **data, parallelism="", ram_value="1", ram_unit="GiB"
    )
    assert r.status_code == 422
    assert b'id="parallelism-error"' in r.content


def test_it_warns_when_the_ram_requests_pass_the_machine(alice_client, pipeline):
    r = post(alice_client, "execution", "ram", ram_value="999999", ram_unit="GiB")
    assert b'id="ram-warning"' in r.content
    assert b"<html" not in r.content


def test_it_does_not_warn_for_a_small_ram_request(alice_client, pipeline):
    r = post(alice_client, "execution", "ram", ram_value="1", ram_unit="MiB")
    assert b'id="ram-warning"' not in r.content


def test_it_rejects_a_bad_cron(alice_client, pipeline):
    data = {**GENERAL, **PERIODIC, "schedule_mode": "advanced", "schedule": "* * *"}
    r = post(alice_client, "trigger", **data)
    assert r.status_code == 422
    assert b'id="schedule-error"' in r.content
    assert b"has 3 field(s)" in r.content


def test_it_rejects_every_70_minutes(alice_client, pipeline):
    r = post(alice_client, "trigger", **{**GENERAL, **PERIODIC, "basic_value": "70"})
    assert r.status_code == 422
    assert b'id="basic-error"' in r.content


def test_it_offers_no_endpoint_source_to_periodic_deployments(alice_client, pipeline):
    r = post(alice_client, "trigger", **{**GENERAL, **PERIODIC})
    assert b'data-step="mapping"' in r.content
    assert b'<option value="endpoint"' not in r.content
    assert b'<option value="constant"' in r.content


def test_it_defaults_endpoint_inputs_to_their_names(alice_client, pipeline):
    r = post(alice_client, "trigger", **{**GENERAL, **TRIGGER})
    assert b'name="in0_endpoint" value="a"' in r.content
    assert b'<option value="endpoint" selected>' in r.content


def test_it_rejects_an_unmapped_periodic_input(alice_client, pipeline):
    data = {**GENERAL, **PERIODIC, **PERIODIC_MAPPING, "in0_source": ""}
    r = post(alice_client, "mapping", **data)
    assert r.status_code == 422
    assert "Choose a source for input “a”." in r.content.decode()


def test_it_rejects_a_constant_of_the_wrong_type(alice_client, pipeline):
    data = {**GENERAL, **PERIODIC, **PERIODIC_MAPPING, "in0_constant": "three"}
    r = post(alice_client, "mapping", **data)
    assert r.status_code == 422
    assert "must be a number, got string &#x27;three&#x27;" in r.content.decode()


def test_it_reviews_the_answers(alice_client, pipeline):
    r = post(alice_client, "mapping", **{**GENERAL, **PERIODIC, **PERIODIC_MAPPING})
    assert b'data-step="review"' in r.content
    assert b"Every minute" in r.content
    assert b"* * * * *" in r.content


def test_it_creates_an_endpoint_deployment(alice_client, alice, pipeline):
    data = {**GENERAL, **TRIGGER, **ENDPOINT_MAPPING, "in0_endpoint": "number"}
    r = post(alice_client, "review", "create", **data)
    assert r.status_code == 302
    assert r.url == "/deployments/adder-api/"
    deployment = Deployment.objects.get(name="adder-api")
    assert deployment.endpoint_url_path == "adder-api"
    assert deployment.inputs_mapping[0] == {
        "pipeline_input_name": "a",
        "endpoint_input_name": "number",
        "is_required": True,
    }
    assert deployment.created_by == alice


def test_it_creates_a_periodic_deployment(alice_client, pipeline):
    data = {**GENERAL, **PERIODIC, **PERIODIC_MAPPING}
    r = post(alice_client, "review", "create", **data)
    assert r.status_code == 302
    deployment = Deployment.objects.get(name="adder-api")
    assert deployment.schedule == "* * * * *"
    assert deployment.inputs_mapping[0] == {
        "pipeline_input_name": "a",
        "constant_value": 3,
    }


def test_it_revalidates_every_step_on_create(alice_client, pipeline):
    data = {**GENERAL, **PERIODIC, **PERIODIC_MAPPING, "name": "NO"}
    r = post(alice_client, "review", "create", **data)
    assert r.status_code == 422
    assert b'data-step="general"' in r.content
    assert not Deployment.objects.exists()


def test_it_creates_a_low_latency_deployment_waiting_for_its_pod(
    alice_client, pipeline
):
    data = {
        **GENERAL,
        "mode": "low_latency",
        "management": "queue",
        "parallelism": "6",
        "ram_value": "1",
        "ram_unit": "GiB",
        **TRIGGER,
        **ENDPOINT_MAPPING,
    }
    r = post(alice_client, "review", "create", **data)
    assert r.status_code == 302
    deployment = Deployment.objects.get(name="adder-api")
    assert deployment.mode == "low_latency"
    assert deployment.status == "creation_pending"
    assert deployment.ram_request == "1GiB"
    assert deployment.enable_parallel_executions is False


def test_it_answers_htmx_with_the_fragment(alice_client, pipeline):
    r = alice_client.post(
        URL,
        {"step": "general", "action": "next", **GENERAL},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200
    assert b'id="wizard"' in r.content
    assert b"<html" not in r.content


def test_it_redirects_htmx_after_create(alice_client, pipeline):
    data = {
        "step": "review",
        "action": "create",
        **GENERAL,
        **TRIGGER,
        **ENDPOINT_MAPPING,
    }
    r = alice_client.post(URL, data, headers={"HX-Request": "true"})
    assert r.headers["HX-Redirect"] == "/deployments/adder-api/"


def test_it_goes_back_keeping_the_answers(alice_client, pipeline):
    r = post(alice_client, "trigger", "back", **{**GENERAL, **PERIODIC})
    assert b'data-step="general"' in r.content
    assert b'value="adder-api"' in r.content
    assert b'<input type="hidden" name="execution_rule" value="periodic">' in r.content


def test_it_requires_login(client, pipeline):
    r = client.get(URL)
    assert r.status_code == 302
    assert r.url.startswith("/accounts/login/")


def test_it_rejects_put(alice_client, pipeline):
    assert alice_client.put(URL).status_code == 405


def test_it_404s_for_an_unknown_pipeline(alice_client, db):
    assert alice_client.get("/pipelines/nope/deploy/").status_code == 404


def test_it_refuses_a_pipeline_that_is_not_ready(alice_client, pipeline):
    Pipeline.objects.filter(pk=pipeline.pk).update(
        status=PipelineStatus.CREATION_PENDING
    )
    r = alice_client.get(URL)
    assert r.status_code == 302
    assert not r.url.endswith("/deploy/")


def test_it_shows_the_deploy_button_only_when_ready(pipeline):
    assert "/pipelines/adder/deploy/" in render_to_string(
        "deployments/_pipeline_deploy_button.html", {"pipeline": pipeline}
    )
    pipeline.status = PipelineStatus.CREATION_FAILED
    html = render_to_string(
        "deployments/_pipeline_deploy_button.html", {"pipeline": pipeline}
    )
    assert "deploy" not in html


LOW_LATENCY = {**GENERAL, "mode": "low_latency", "management": "queue"}


def test_it_validates_only_the_visible_schedule_field(alice_client, pipeline):
    # Basic "every 0" then Advanced: the hidden Basic number no longer blocks.
    data = {**GENERAL, **PERIODIC, "basic_value": "0"}
    data |= {"schedule_mode": "advanced", "schedule": "30 9 * * 1-5"}
    r = post(alice_client, "trigger", **data)
    assert r.status_code == 200
    assert b'data-step="mapping"' in r.content


def test_it_refuses_every_0_in_its_own_words(alice_client, pipeline):
    r = post(alice_client, "trigger", **{**GENERAL, **PERIODIC, "basic_value": "0"})
    assert r.status_code == 422
    assert EVERY_TOO_SMALL.encode() in r.content
    assert b"greater than or equal" not in r.content


def test_it_ignores_the_parallelism_of_a_queue(alice_client, pipeline):
    data = {**LOW_LATENCY, "parallelism": "0", "ram_value": "1", "ram_unit": "GiB"}
    r = post(alice_client, "execution", **data)
    assert b'data-step="trigger"' in r.content


def test_it_refuses_a_ram_request_too_small_at_its_step(alice_client, pipeline):
    r = post(alice_client, "execution", **LOW_LATENCY, ram_value="10", ram_unit="KiB")
    assert r.status_code == 422
    assert b'id="ram-error"' in r.content
    assert b"too small" in r.content


def test_it_refuses_more_ram_than_the_machine_at_its_step(alice_client, pipeline):
    r = post(alice_client, "execution", **LOW_LATENCY, ram_value="9999", ram_unit="GiB")
    assert r.status_code == 422
    assert b"more than this machine&#x27;s total RAM" in r.content


def test_it_shows_every_error_of_a_step_at_once(alice_client, pipeline):
    data = {**LOW_LATENCY, "management": "parallel", "parallelism": "0"}
    r = post(alice_client, "execution", **data, ram_value="10", ram_unit="KiB")
    assert b'id="parallelism-error"' in r.content
    assert b'id="ram-error"' in r.content


def test_it_refuses_a_bad_execution_timeout(alice_client, pipeline):
    r = post(alice_client, "general", **GENERAL, execution_timeout_s="0")
    assert r.status_code == 422
    assert b'id="timeout-error"' in r.content


def test_it_creates_with_the_execution_timeout(alice_client, pipeline):
    data = {**GENERAL, **TRIGGER, **ENDPOINT_MAPPING, "execution_timeout_s": "90"}
    post(alice_client, "review", "create", **data)
    assert Deployment.objects.get(name="adder-api").execution_timeout_s == 90


def test_it_refuses_a_malformed_json_constant(alice_client, pipeline):
    pipeline.inputs = [{"name": "a", "data_type": "json", "is_required": False}]
    pipeline.save()
    data = {**GENERAL, **PERIODIC, "in0_source": "constant", "in0_constant": "{bad"}
    r = post(alice_client, "mapping", **data, out0_source="is_null")
    assert r.status_code == 422
    assert b"must be valid JSON" in r.content


def test_it_refuses_a_data_store_path_leaving_the_store(alice_client, pipeline):
    data = {**GENERAL, **PERIODIC, **PERIODIC_MAPPING}
    data |= {"out0_source": "datastore", "out0_datastore": "../../etc/passwd"}
    r = post(alice_client, "mapping", **data)
    assert r.status_code == 422
    assert b"output &#x27;total&#x27;" in r.content
    assert b"inputs_mapping:" not in r.content


def test_it_refuses_a_required_input_mapped_to_null(alice_client, pipeline):
    data = {**GENERAL, **PERIODIC, **PERIODIC_MAPPING, "in0_source": "is_null"}
    r = post(alice_client, "mapping", **data)
    assert r.status_code == 422
    assert b"is required: map it to a value" in r.content


def test_it_shows_every_mapping_error_at_once(alice_client, pipeline):
    r = post(alice_client, "mapping", **GENERAL, **PERIODIC)
    assert b"Choose a source for input" in r.content
    assert b"Choose a destination for output" in r.content
