"""Deployment and pipeline pages are live; the execution page names the token, searches logs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_any_screen import served  # noqa: F401  (module fixture)

pytestmark = [pytest.mark.e2e]

# One poll period (2 s) plus the poll's own round trip on a busy machine.
APPEARS_MS = 2_500


def _call_endpoint(live_platform, deployment: str) -> str:
    sdk = live_platform.sdk()
    token = sdk.get_deployment(deployment)["endpoint_token"]
    result = sdk.trigger_endpoint(
        deployment, token, inputs={"number1": 4, "number2": 5}
    )
    return result["execution_id"]


def test_a_call_appears_on_an_open_deployment_page(
    page: Page,
    live_platform,
    served,  # noqa: F811
    shoot,
):
    page.goto(f"{live_platform.url}/deployments/{served['deployment']}/")
    expect(page.locator("#latest-executions[data-live]")).to_be_visible()

    execution_id = _call_endpoint(live_platform, served["deployment"])

    row = page.locator(f"#row-{execution_id}")
    expect(row).to_be_visible(timeout=APPEARS_MS)
    expect(row.locator(".status")).to_have_text("Succeeded", timeout=APPEARS_MS)
    shoot("deployment-live-1366")
    page.set_viewport_size({"width": 375, "height": 900})
    shoot("deployment-live-375")

    page.click(f"#row-{execution_id} a")
    expect(page.get_by_text("token “main token”")).to_be_visible()


def test_a_run_appears_on_an_open_pipeline_page(
    page: Page,
    live_platform,
    served,  # noqa: F811
):
    page.goto(f"{live_platform.url}/pipelines/{served['pipeline']}/")
    run = live_platform.sdk().run_pipeline(
        served["pipeline"], inputs={"number1": 2, "number2": 3}
    )
    row = page.locator(f"#row-{run['execution_id']}")
    expect(row).to_be_visible(timeout=APPEARS_MS)
    expect(row.locator(".status")).to_have_text("Succeeded", timeout=APPEARS_MS)


def test_logs_are_searchable_and_downloadable(
    page: Page,
    live_platform,
    served,  # noqa: F811
    shoot,
):
    page.goto(f"{live_platform.url}/executions/{served['execution']}/")
    page.fill("#log-search", "no-such-text-anywhere")
    expect(page.locator("#log-matches")).to_contain_text("No line contains")
    with page.expect_download() as download:
        page.click("#download-logs")
    assert download.value.suggested_filename == f"{served['execution']}.log.txt"
    shoot("execution-log-search-1366")


def test_the_pipeline_list_searches_by_name(
    page: Page,
    live_platform,
    served,  # noqa: F811
):
    page.goto(f"{live_platform.url}/pipelines/")
    page.fill("#pipeline-search", served["pipeline"][-12:])
    expect(page.locator("#pipelines tbody tr")).to_have_count(1)
    expect(page.locator("#pipelines .last-run")).not_to_contain_text("never")
