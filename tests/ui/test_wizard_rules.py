"""The Deploy wizard never traps and refuses each bad value at its own step (issue 20)."""

from __future__ import annotations

import pytest
from craft_ai_sdk.io import Input, Output
from playwright.sync_api import Page, expect

from tests.ui.test_deploy_wizard import next_step, open_wizard, unique

pytestmark = [pytest.mark.e2e]

CONFIGURED = """
def run(config, count):
    return {"report": {"config": config, "count": count}}
"""


@pytest.fixture(scope="module")
def configured(live_platform, tmp_path_factory) -> str:
    """A pipeline with a JSON input, a required number and a JSON output."""
    folder = tmp_path_factory.mktemp("ui-configured")
    (folder / "main.py").write_text(CONFIGURED)
    name = unique("ui-conf")
    live_platform.sdk().create_pipeline(
        pipeline_name=name,
        function_path="main.py",
        function_name="run",
        container_config={"local_folder": str(folder)},
        inputs=[Input("config", "json"), Input("count", "number", is_required=True)],
        outputs=[Output("report", "json")],
    )
    return name


def test_it_never_traps_between_basic_and_advanced(
    page: Page, live_platform, configured, shoot
):
    open_wizard(page, live_platform.url, configured)
    page.fill("input[name=name]", unique("ui-trap"))
    next_step(page, "trigger")
    page.check("input[name=execution_rule][value=periodic]")
    page.fill("input[name=basic_value]", "0")
    page.click("#wizard-next")
    expect(page.locator("#basic-error")).to_contain_text("1 or more")

    page.check("input[name=schedule_mode][value=advanced]")
    expect(page.locator("#cron-preview-hint")).to_be_visible()  # no "required" yet
    page.locator("input[name=schedule]").press_sequentially("61 9 * * 1-5")
    expect(page.locator("#cron-preview-error")).to_contain_text(
        "the minute field is 61, outside its range 0-59"
    )
    page.fill("input[name=schedule]", "30 9 * * 1-5")
    expect(page.locator("#cron-description")).to_be_visible()
    expect(page.locator("#trigger-step .field-error")).to_have_count(0)
    shoot("wizard-trap-advanced-valid-1366")
    next_step(page, "mapping")


def test_it_refuses_each_bad_value_at_its_step(
    page: Page, live_platform, configured, shoot
):
    open_wizard(page, live_platform.url, configured)
    page.fill("input[name=name]", unique("ui-bad"))
    page.fill("input[name=execution_timeout_s]", "0")
    page.check("input[name=mode][value=low_latency]")
    page.click("#wizard-next")
    expect(page.locator("#timeout-error")).to_contain_text("execution_timeout_s")
    page.fill("input[name=execution_timeout_s]", "120")
    next_step(page, "execution")

    page.check("input[name=management][value=parallel]")
    page.fill("input[name=parallelism]", "0")
    page.fill("input[name=ram_value]", "10")
    page.select_option("select[name=ram_unit]", "KiB")
    page.click("#wizard-next")
    # Every error of the step at once, each beside its field.
    expect(page.locator("#parallelism-error")).to_be_visible()
    expect(page.locator("#ram-error")).to_contain_text("too small")
    page.fill("input[name=parallelism]", "4")
    page.fill("input[name=ram_value]", "9999")
    page.select_option("select[name=ram_unit]", "GiB")
    page.click("#wizard-next")
    expect(page.locator("#ram-error")).to_contain_text("more than this machine")
    expect(page.locator("input[name=parallelism]")).to_have_value("4")  # kept
    page.fill("input[name=ram_value]", "256")
    page.select_option("select[name=ram_unit]", "MiB")
    next_step(page, "trigger")

    page.check("input[name=execution_rule][value=periodic]")
    next_step(page, "mapping")
    page.select_option("select[name=in0_source]", "constant")
    page.fill("textarea[name=in0_constant]", "{bad json")
    page.select_option("select[name=in1_source]", "is_null")
    page.select_option("select[name=out0_source]", "datastore")
    page.fill("input[name=out0_datastore]", "../../etc/passwd")
    page.click("#wizard-next")
    step = page.locator("#mapping-step")
    expect(step).to_contain_text("must be valid JSON")
    expect(step).to_contain_text("input 'count' is required")
    expect(step).to_contain_text("output 'report'")
    expect(page.locator("textarea[name=in0_constant]")).to_have_value("{bad json")
    shoot("wizard-mapping-errors-1366")
    page.set_viewport_size({"width": 375, "height": 800})
    shoot("wizard-mapping-errors-375")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.fill("textarea[name=in0_constant]", '{"lr": 0.2}')
    page.select_option("select[name=in1_source]", "constant")
    page.fill("input[name=in1_constant]", "3")
    page.fill("input[name=out0_datastore]", "reports/{execution_id}.json")
    next_step(page, "review")
    expect(page.locator("#review-timeout")).to_have_text("120 s")
