"""Metric charts in a real browser: recorded by a real execution through the official client."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_metrics_sdk import pipeline_with_client

pytestmark = [pytest.mark.e2e]


def test_it_charts_an_executions_list_metric_and_a_pipeline_metric(
    page: Page, live_platform, tmp_path, shoot
):
    sdk = live_platform.sdk()
    name = pipeline_with_client(sdk, tmp_path)
    sdk.run_pipeline(name, inputs={"epochs": 3})
    last = sdk.run_pipeline(name, inputs={"epochs": 6})

    page.goto(f"{live_platform.url}/executions/{last['execution_id']}/")
    metrics = page.locator("#metrics")
    expect(metrics.get_by_role("cell", name="loss", exact=True)).to_be_visible()
    expect(metrics.locator("svg polyline")).to_be_visible()
    expect(metrics.locator("svg")).to_have_attribute(
        "aria-label", "losses: 6 values from 0.1667 to 1.0"
    )
    metrics.scroll_into_view_if_needed()
    shoot("metrics-execution")

    page.goto(f"{live_platform.url}/pipelines/{name}/")
    metrics = page.locator("#metrics")
    expect(metrics.locator("select[name=metric]")).to_have_value("loss")
    expect(metrics.locator("svg")).to_have_attribute(
        "aria-label", "loss: 2 values from 0.1667 to 0.3333"
    )
    shoot("metrics-pipeline")
