"""Run again and compare in a real browser, on executions the live stack really ran."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.test_executions_sdk import create_pipeline

pytestmark = [pytest.mark.e2e]


def test_it_runs_an_execution_again_and_compares_two(
    page: Page, live_platform, tmp_path, shoot
):
    sdk = live_platform.sdk()
    name = create_pipeline(sdk, tmp_path, "add")
    first = sdk.run_pipeline(name, inputs={"number1": 1, "number2": 2})
    second = sdk.run_pipeline(name, inputs={"number1": 5, "number2": 2})

    page.goto(f"{live_platform.url}/executions/{first['execution_id']}/")
    page.click("#run-again")
    expect(page.locator("#replay-of")).to_have_text(first["execution_id"])
    expect(page.locator("#summary .status")).to_have_text("Succeeded", timeout=60_000)
    shoot("replay-execution")
    page.click("#compare-with-original")
    expect(page.locator("#compare-logs")).to_contain_text(
        "The logs are the same line for line."
    )

    page.goto(f"{live_platform.url}/executions/?pipeline={name}")
    page.check(f'input[name=e][value="{first["execution_id"]}"]')
    page.check(f'input[name=e][value="{second["execution_id"]}"]')
    page.click("#compare-selected")
    expect(page.locator("#compare-inputs tr.differs")).to_contain_text("number1")
    expect(page.locator("#compare-outputs tr.differs")).to_contain_text("total")
    expect(page.locator("#compare-logs")).to_contain_text("First difference at line 1")
    expect(page.locator("#compare-logs")).to_contain_text("adding 5 2")
    shoot("compare-executions")
