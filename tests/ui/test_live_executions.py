"""The Executions list is live: a run started elsewhere appears on an open page within 2 s."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.test_any_screen import served  # noqa: F401  (module fixture)

pytestmark = [pytest.mark.e2e]

# One poll period (2 s) plus the poll's own round trip on a busy machine.
APPEARS_MS = 2_500


def test_a_run_appears_on_an_open_list(page: Page, live_platform, served, shoot):  # noqa: F811
    page.goto(f"{live_platform.url}/executions/")
    expect(page.locator("#results[data-live]")).to_be_visible()

    run = live_platform.sdk().run_pipeline(
        served["pipeline"], inputs={"number1": 2, "number2": 3}
    )

    row = page.locator(f"#row-{run['execution_id']}")
    expect(row).to_be_visible(timeout=APPEARS_MS)
    expect(row.locator(".status")).to_have_text("Succeeded", timeout=APPEARS_MS)
    shoot("executions-live-1366")


def test_a_hidden_tab_stops_polling(page: Page, live_platform, served):  # noqa: F811
    page.goto(f"{live_platform.url}/executions/")
    polls: list[str] = []
    page.on(
        "request",
        lambda r: polls.append(r.url) if "/executions/" in r.url else None,
    )
    page.evaluate(
        "Object.defineProperty(document, 'hidden', {value: true, configurable: true})"
    )
    page.wait_for_timeout(4_500)
    assert polls == []


def test_filters_are_choice_lists(page: Page, live_platform, served):  # noqa: F811
    page.goto(f"{live_platform.url}/executions/")
    page.select_option("select[name=pipeline]", served["pipeline"])
    page.click("form.grid button[type=submit]")
    expect(page.locator("#results tbody tr").first).to_contain_text(served["pipeline"])
