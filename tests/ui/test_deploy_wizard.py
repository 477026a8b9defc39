"""The Deploy wizard in a real browser: endpoint and periodic deployments end to end."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from craft_ai_sdk.io import Input, Output
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e]

ADDER = """
def add(number1, number2):
    return {"number3": (number1 or 0) + (number2 or 0)}
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def adder(live_platform, tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("ui-adder")
    (folder / "src").mkdir()
    (folder / "src" / "main.py").write_text(ADDER)
    name = unique("ui-adder")
    live_platform.sdk().create_pipeline(
        pipeline_name=name,
        function_path="src/main.py",
        function_name="add",
        container_config={"local_folder": str(folder)},
        inputs=[Input("number1", "number"), Input("number2", "number")],
        outputs=[Output("number3", "number")],
    )
    return name


def open_wizard(page: Page, url: str, pipeline: str) -> None:
    page.goto(f"{url}/pipelines/{pipeline}/")
    page.click("#deploy-button")
    expect(page.locator('form[data-step="general"]')).to_be_visible()


def next_step(page: Page, step: str) -> None:
    page.click("#wizard-next")
    expect(page.locator(f'form[data-step="{step}"]')).to_be_visible()


def test_it_deploys_an_endpoint_and_serves_curl(
    page: Page, live_platform, adder, shoot
):
    name = unique("ui-ep")
    open_wizard(page, live_platform.url, adder)
    page.fill("input[name=name]", name)
    shoot("wizard-endpoint-1-general")
    next_step(page, "trigger")
    shoot("wizard-endpoint-2-trigger")
    next_step(page, "mapping")
    page.fill("input[name=in0_endpoint]", "number_a")
    shoot("wizard-endpoint-3-mapping")
    next_step(page, "review")
    expect(page.locator("#review-mappings")).to_contain_text("number_a")
    shoot("wizard-endpoint-4-review")
    page.click("#wizard-create")
    page.wait_for_url(f"**/deployments/{name}/")
    shoot("deployment-endpoint-page")

    expect(page.locator("#endpoint-token")).to_have_text("••••••••••••")
    page.click("#reveal-token")
    token = page.inner_text("#endpoint-token").strip()
    endpoint_url = page.inner_text("#endpoint-url").strip()
    shoot("deployment-endpoint-token-revealed")
    result = subprocess.run(
        [
            "curl", "-sS", "-L", "--max-time", "120", "-X", "POST",
            "-H", f"Authorization: EndpointToken {token}",
            "-H", "Content-Type: application/json",
            "-d", json.dumps({"number_a": 9, "number2": 6}),
            endpoint_url,
        ],
        capture_output=True, text=True, timeout=150, check=True,
    )  # fmt: skip

    assert len(token) > 20
    assert endpoint_url == f"{live_platform.url}/endpoints/{name}"
    body = json.loads(result.stdout)
    assert body.get("outputs") == {"number3": 15}, body


def test_it_deploys_a_periodic_job_in_basic_mode(
    page: Page, live_platform, adder, shoot
):
    name = unique("ui-cron")
    open_wizard(page, live_platform.url, adder)
    page.fill("input[name=name]", name)
    next_step(page, "trigger")
    page.check("input[name=execution_rule][value=periodic]")
    page.fill("input[name=basic_value]", "1")
    page.select_option("select[name=basic_unit]", "minutes")
    expect(page.locator("#cron-description")).to_have_text("Every minute")
    expect(page.locator(".cron-preview-date")).to_have_count(5)
    shoot("wizard-periodic-2-trigger")
    next_step(page, "mapping")
    page.select_option("select[name=in0_source]", "constant")
    page.fill("input[name=in0_constant]", "2")
    page.select_option("select[name=in1_source]", "is_null")
    page.select_option("select[name=out0_source]", "is_null")
    shoot("wizard-periodic-3-mapping")
    next_step(page, "review")
    expect(page.locator("#review-trigger")).to_contain_text("Every minute")
    shoot("wizard-periodic-4-review")
    page.click("#wizard-create")
    page.wait_for_url(f"**/deployments/{name}/")
    shoot("deployment-periodic-page")

    expect(page.locator("#schedule")).to_contain_text("Every minute")
    expect(page.locator("#schedule .cron-preview-date")).to_have_count(5)
    page.goto(f"{live_platform.url}/deployments/")
    expect(page.locator("#deployments")).to_contain_text(name)
    shoot("deployment-list")


def test_it_shows_why_a_step_fails(page: Page, live_platform, adder, shoot):
    open_wizard(page, live_platform.url, adder)
    page.fill("input[name=name]", "Not A Name")
    page.click("#wizard-next")
    expect(page.locator("#name-error")).to_be_visible()
    shoot("wizard-error-bad-name")
    page.fill("input[name=name]", unique("ui-ll"))
    page.check("input[name=mode][value=low_latency]")
    next_step(page, "execution")
    page.check("input[name=management][value=parallel]")
    page.fill("input[name=ram_value]", "99999")
    page.select_option("select[name=ram_unit]", "GiB")
    expect(page.locator("#ram-warning")).to_be_visible()
    shoot("wizard-lowlatency-2-execution")
    page.fill("input[name=ram_value]", "1")
    next_step(page, "trigger")
    page.check("input[name=execution_rule][value=periodic]")
    page.check("input[name=schedule_mode][value=advanced]")
    page.locator("input[name=schedule]").press_sequentially("0 0 30 2 *")
    expect(page.locator("#cron-preview-error")).to_contain_text("never matches")
    shoot("wizard-error-cron")
    page.fill("input[name=schedule]", "*/5 * * * *")
    next_step(page, "mapping")
    page.click("#wizard-next")
    expect(page.locator("#mapping-step")).to_contain_text("Choose a source for input")
    shoot("wizard-error-unmapped-input")
    page.select_option("select[name=in0_source]", "constant")
    page.fill("input[name=in0_constant]", "1")
    page.select_option("select[name=in1_source]", "is_null")
    page.select_option("select[name=out0_source]", "is_null")
    next_step(page, "review")
    shoot("wizard-lowlatency-5-review")
    page.click("#wizard-create")
    page.wait_for_url("**/deployments/*/")
    shoot("deployment-low-latency-page")
