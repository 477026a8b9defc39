"""Metric charts in a real browser: recorded by a real execution through the official client.

Drawn by the vendored uPlot (static/js/charts.js): axes, values on hover, drag to
zoom, several executions overlaid on the pipeline page.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_metrics_sdk import pipeline_with_client

pytestmark = [pytest.mark.e2e]


def hover_middle(page: Page, figure) -> None:
    box = figure.locator(".u-over").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


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
    chart = metrics.locator("figure.chart[data-drawn]")
    expect(chart.locator("canvas")).to_be_visible()
    expect(chart.locator(".u-axis")).to_have_count(2)
    expect(chart).to_contain_text("Step")
    chart.scroll_into_view_if_needed()
    hover_middle(page, chart)
    # The legend shows the step and the value under the cursor.
    value = chart.locator(".u-legend .u-series").nth(1).locator(".u-value")
    expect(value).not_to_have_text("—")
    assert 0.1 < float(value.inner_text()) <= 1.0
    shoot("metrics-execution")

    page.goto(f"{live_platform.url}/pipelines/{name}/")
    metrics = page.locator("#metrics")
    expect(metrics.locator("select[name=metric]")).to_have_value("loss")
    over_time = metrics.locator("#metric-chart[data-drawn]")
    expect(over_time).to_contain_text("Execution start (UTC)")
    over_time.scroll_into_view_if_needed()
    hover_middle(page, over_time)
    expect(
        over_time.locator(".u-legend .u-series").first.locator(".u-value")
    ).to_contain_text("UTC")

    # Two executions' `losses` on one chart, one line each; drag zooms on a window.
    overlaid = metrics.locator("#list-metric-chart[data-drawn]")
    expect(overlaid.locator(".u-legend .u-series")).to_have_count(3)  # x + 2 runs
    expect(overlaid).to_contain_text(last["execution_id"])
    before = overlaid.get_attribute("data-x-range")
    overlaid.locator(".u-over").scroll_into_view_if_needed()
    box = overlaid.locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    expect(overlaid).not_to_have_attribute("data-x-range", before or "")
    shoot("metrics-pipeline")
    page.set_viewport_size({"width": 375, "height": 900})
    shoot("metrics-pipeline-375")
