from __future__ import annotations

import json

from executions.models import MetricKind, PipelineMetric


def add(execution, name, **values):
    kind = MetricKind.LIST if "values" in values else MetricKind.SINGLE
    PipelineMetric.objects.create(execution=execution, kind=kind, name=name, **values)


def test_the_execution_page_lists_values_and_charts_lists(alice_client, make_execution):
    execution = make_execution()
    add(execution, "accuracy", value=0.875)
    add(execution, "losses", values=[3, 2, 1])
    html = alice_client.get(f"/executions/{execution.execution_id}/").content.decode()
    assert "accuracy" in html and "0.875" in html
    assert "<polyline" in html and 'aria-label="losses: 3 values from 1 to 3"' in html


def test_the_execution_page_says_how_to_record_one(alice_client, make_execution):
    execution = make_execution()
    html = alice_client.get(f"/executions/{execution.execution_id}/").content.decode()
    assert "record_metric_value" in html


def test_metric_names_are_escaped(alice_client, make_execution):
    execution = make_execution()
    add(execution, "<b>x</b>", values=[1])
    html = alice_client.get(f"/executions/{execution.execution_id}/").content.decode()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_the_pipeline_page_charts_a_metric_over_executions(
    alice_client, make_execution
):
    for value in (0.5, 0.25, 0.125):
        add(make_execution(), "loss", value=value)
    add(make_execution(), "acc", value=0.9)
    html = alice_client.get("/pipelines/adder/?metric=loss").content.decode()
    assert '<option value="loss" selected>' in html
    assert 'aria-label="loss: 3 values from 0.125 to 0.5"' in html


def test_the_pipeline_page_falls_back_to_the_first_name(alice_client, make_execution):
    add(make_execution(), "loss", value=1)
    html = alice_client.get("/pipelines/adder/?metric=nope").content.decode()
    assert '<option value="loss" selected>' in html


def test_anonymous_users_are_sent_to_log_in(client, make_execution):
    execution = make_execution()
    response = client.get(f"/executions/{execution.execution_id}/")
    assert response.status_code == 302


def test_the_pipeline_page_overlays_the_last_executions_list_metric(
    alice_client, make_execution
):
    first, second = make_execution(), make_execution()
    add(first, "losses", values=[3, 2])
    add(second, "losses", values=[4, 1, 0.5])
    html = alice_client.get("/pipelines/adder/").content.decode()
    spec = json.loads(
        html.split('id="list-metric-chart-data" type="application/json">')[1].split(
            "</script>"
        )[0]
    )
    assert [s["label"] for s in spec["series"]] == [
        first.execution_id,
        second.execution_id,
    ]
    assert spec["series"][0]["values"] == [3, 2, None]
    assert "vendor/uplot/uPlot.iife.min.js" in html and "js/charts.js" in html
