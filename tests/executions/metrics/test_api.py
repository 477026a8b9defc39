from __future__ import annotations

from django.test import Client

from deployments.models import Deployment
from deployments.services.deployments import deployment_create
from executions.api.metrics import OTHER_EXECUTION
from executions.metrics.services import BAD_NAME
from executions.metrics.tokens import execution_sdk_token_issue
from executions.models import Execution, ExecutionStatus, MetricKind, PipelineMetric
from executions.services import execution_claim, execution_finish


def put_value(client, execution, name="loss", value=0.3):
    return client.put(
        f"/api/v1/metrics/single-value/{name}",
        {"value": value, "execution_id": execution.execution_id},
        content_type="application/json",
    )


def post_values(client, execution, values, name="losses"):
    return client.post(
        f"/api/v1/metrics/list-values/{name}",
        {"values": values, "execution_id": execution.execution_id},
        content_type="application/json",
    )


def running(make_execution, **given):
    execution = make_execution(**given)
    execution_claim(execution_pk=execution.pk)
    execution.refresh_from_db()
    return execution


def test_it_records_a_value_with_the_execution_token(make_execution, execution_client):
    execution = running(make_execution)
    response = put_value(execution_client(execution), execution)
    assert response.status_code == 200
    metric = PipelineMetric.objects.get(execution=execution)
    assert (metric.kind, metric.name, metric.value) == (MetricKind.SINGLE, "loss", 0.3)


def test_it_replaces_a_single_value(make_execution, execution_client):
    execution = running(make_execution)
    client = execution_client(execution)
    put_value(client, execution, value=1)
    put_value(client, execution, value=2)
    assert list(PipelineMetric.objects.values_list("value", flat=True)) == [2.0]


def test_it_appends_list_values_in_order(make_execution, execution_client):
    execution = running(make_execution)
    client = execution_client(execution)
    assert post_values(client, execution, [1, 2]).status_code == 200
    post_values(client, execution, [3.5])
    assert PipelineMetric.objects.get(kind=MetricKind.LIST).values == [1, 2, 3.5]


def test_it_refuses_another_executions_id(make_execution, execution_client):
    mine, other = running(make_execution), running(make_execution)
    response = put_value(execution_client(mine), other)
    assert response.status_code == 403
    assert response.json()["message"] == OTHER_EXECUTION
    assert not PipelineMetric.objects.exists()


def test_the_token_dies_with_the_execution(make_execution, execution_client):
    execution = running(make_execution)
    client = execution_client(execution)
    raw = execution_sdk_token_issue(execution=execution)
    execution_finish(
        execution=execution,
        status=ExecutionStatus.SUCCEEDED,
        reason=None,
        outputs={"total": {"value": 3}},
    )
    assert put_value(client, execution).status_code == 401
    refresh = Client().post(
        "/api/v1/auth/refresh",
        {"refresh_token": raw},
        content_type="application/json",
    )
    assert refresh.status_code == 401


def test_a_forged_execution_token_is_refused(make_execution):
    execution = running(make_execution)
    raw = execution_sdk_token_issue(execution=execution)
    other = running(make_execution)
    forged = [
        raw[:-1] + ("A" if raw[-1] != "A" else "B"),  # signature tampered
        raw.replace(str(execution.pk), str(other.pk)),  # another execution's id
        f"exe_{other.pk}",  # no signature at all
    ]
    for token in forged:
        refresh = Client().post(
            "/api/v1/auth/refresh",
            {"refresh_token": token},
            content_type="application/json",
        )
        assert refresh.status_code == 401, token


def test_the_execution_token_opens_no_other_route(make_execution, execution_client):
    execution = running(make_execution)
    client = execution_client(execution)
    assert client.get(f"/api/v1/executions/{execution.execution_id}").status_code == 401
    assert client.get("/api/v1/metrics/single-value").status_code == 401
    assert client.get("/api/v1/pipelines").status_code == 401


def test_a_user_token_cannot_record(make_execution, api_client):
    execution = running(make_execution)
    assert put_value(api_client, execution).status_code == 401


def test_it_refuses_bad_values(make_execution, execution_client):
    execution = running(make_execution)
    client = execution_client(execution)
    assert put_value(client, execution, value="NaN").status_code == 400
    assert put_value(client, execution, value=True).status_code == 400
    assert post_values(client, execution, [1, "x"]).status_code == 400
    response = put_value(client, execution, name="bad name")
    assert response.status_code == 400
    assert response.json()["message"] == BAD_NAME


def record(execution, name, value):
    PipelineMetric.objects.create(
        execution=execution, kind=MetricKind.SINGLE, name=name, value=value
    )


def test_it_lists_values_with_every_filter(api_client, make_execution):
    first, second = make_execution(), make_execution()
    record(first, "loss", 1)
    record(first, "acc", 0.5)
    record(second, "loss", 2)
    url = "/api/v1/metrics/single-value"

    by_name = api_client.get(url, {"filters[name]": "loss"}).json()
    by_execution = api_client.get(
        url, {"filters[execution_id]": second.execution_id}
    ).json()
    by_pipeline = api_client.get(url, {"filters[pipeline_name]": "adder"}).json()
    by_deployment = api_client.get(url, {"filters[deployment_name]": "nope"}).json()

    assert [m["value"] for m in by_name["metrics"]] == [1, 2]
    assert by_name["total_count"] == 2
    assert by_execution["metrics"][0] == {
        "name": "loss",
        "value": 2,
        "created_at": by_execution["metrics"][0]["created_at"],
        "execution_id": second.execution_id,
        "deployment_name": None,
        "pipeline_name": "adder",
    }
    assert by_pipeline["total_count"] == 3
    assert by_deployment == {"metrics": [], "total_count": 0}


def test_it_pages_with_an_exact_total(api_client, make_execution):
    execution = make_execution()
    for i in range(5):
        record(execution, f"m{i}", i)
    url = "/api/v1/metrics/single-value"
    pages = [
        api_client.get(url, {"items_per_page": 2, "page": page}).json()
        for page in (1, 2, 3, 4)
    ]
    assert [p["total_count"] for p in pages] == [5, 5, 5, 5]
    assert [[m["name"] for m in p["metrics"]] for p in pages] == [
        ["m0", "m1"],
        ["m2", "m3"],
        ["m4"],
        [],
    ]


def test_it_lists_list_metrics(api_client, make_execution):
    execution = make_execution()
    PipelineMetric.objects.create(
        execution=execution, kind=MetricKind.LIST, name="losses", values=[3, 2, 1]
    )
    body = api_client.get("/api/v1/metrics/list-values").json()
    assert body["total_count"] == 1
    assert body["metrics"][0]["values"] == [3, 2, 1]


def test_it_refuses_a_bad_page(api_client, db):
    response = api_client.get("/api/v1/metrics/single-value", {"page": "0"})
    assert response.status_code == 400


def test_reading_needs_a_user_token(db):
    assert Client().get("/api/v1/metrics/list-values").status_code == 401


def test_metrics_go_with_their_execution(make_execution):
    execution = make_execution()
    record(execution, "loss", 1)
    execution.delete()
    assert not PipelineMetric.objects.exists()


def in_deployment(execution, alice, mode):
    deployment = deployment_create(
        pipeline=execution.pipeline,
        name=f"d-{mode.replace('_', '-')}",
        execution_rule="endpoint",
        inputs_mapping=None,
        outputs_mapping=None,
        created_by=alice,
    )
    Deployment.objects.filter(pk=deployment.pk).update(mode=mode)
    Execution.objects.filter(pk=execution.pk).update(deployment=deployment)
    execution.refresh_from_db()
    return execution


def test_a_pods_token_records_for_its_parallel_siblings(
    make_execution, execution_client, alice
):
    first = in_deployment(running(make_execution), alice, "low_latency")
    second = running(make_execution)
    Execution.objects.filter(pk=second.pk).update(deployment=first.deployment)
    assert put_value(execution_client(first), second).status_code == 200
    assert PipelineMetric.objects.get().execution_id == second.pk


def test_elastic_siblings_stay_apart(make_execution, execution_client, alice):
    first = in_deployment(running(make_execution), alice, "elastic")
    second = running(make_execution)
    Execution.objects.filter(pk=second.pk).update(deployment=first.deployment)
    assert put_value(execution_client(first), second).status_code == 403


def test_it_refuses_a_nul_in_a_filter(api_client, db):
    response = api_client.get(
        "/api/v1/metrics/single-value", {"filters[name]": "a\x00"}
    )
    assert response.status_code == 400
