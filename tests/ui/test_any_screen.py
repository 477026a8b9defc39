"""Every page from 375 px to 1366 px: no page wider than the viewport, no 404, human statuses."""

from __future__ import annotations

import pytest
from craft_ai_sdk.io import Input, Output
from playwright.sync_api import Page, expect

from tests.ui.conftest import SCREENSHOTS
from tests.ui.test_deploy_wizard import ADDER, unique

pytestmark = [pytest.mark.e2e]

WIDTHS = (1366, 375)


@pytest.fixture(scope="module")
def served(live_platform, tmp_path_factory) -> dict[str, str]:
    """A pipeline, its endpoint deployment and one finished execution."""
    folder = tmp_path_factory.mktemp("ui-screen")
    (folder / "main.py").write_text(ADDER)
    sdk = live_platform.sdk()
    pipeline = unique("ui-screen-pipeline-with-a-rather-long-name")
    sdk.create_pipeline(
        pipeline_name=pipeline,
        function_path="main.py",
        function_name="add",
        container_config={"local_folder": str(folder)},
        inputs=[Input("number1", "number"), Input("number2", "number")],
        outputs=[Output("number3", "number")],
    )
    deployment = unique("ui-screen-endpoint")
    sdk.create_deployment(
        pipeline_name=pipeline, deployment_name=deployment, execution_rule="endpoint"
    )
    run = sdk.run_pipeline(pipeline, inputs={"number1": 1, "number2": 2})
    return {
        "pipeline": pipeline,
        "deployment": deployment,
        "execution": run["execution_id"],
    }


def pages(served: dict[str, str]) -> list[tuple[str, str]]:
    p, d, e = served["pipeline"], served["deployment"], served["execution"]
    return [
        ("home", "/"),
        ("pipelines", "/pipelines/"),
        ("pipeline", f"/pipelines/{p}/"),
        ("pipeline-new", "/pipelines/new/"),
        ("wizard", f"/pipelines/{p}/deploy/"),
        ("deployments", "/deployments/"),
        ("deployment", f"/deployments/{d}/"),
        ("api-docs", f"/deployments/{d}/api-docs/"),
        ("executions", "/executions/"),
        ("execution", f"/executions/{e}/"),
        ("variables", "/environment-variables/"),
        ("data-store", "/data-store/"),
        ("settings", "/accounts/settings/"),
    ]


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_its_viewport(page: Page, live_platform, served, width):
    missing: list[str] = []
    page.on(
        "response",
        lambda r: missing.append(r.url) if r.status == 404 else None,
    )
    page.set_viewport_size({"width": width, "height": 900})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for name, path in pages(served):
        page.goto(f"{live_platform.url}{path}")
        page.wait_for_load_state("networkidle")
        scroll, inner = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        page.screenshot(
            path=str(SCREENSHOTS / f"page-{name}-{width}.png"), full_page=True
        )
        assert scroll <= inner, f"{path} is {scroll} px wide at {width} px"
        text = page.inner_text("main")
        assert "creation_failed" not in text and "creation_pending" not in text
    assert missing == []  # the favicon included


def test_the_menu_folds_at_375_px(page: Page, live_platform):
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_platform.url}/pipelines/")
    link = page.get_by_role("link", name="Executions")
    expect(link).to_be_hidden()
    page.click(".nav-toggle")
    expect(link).to_be_visible()
    expect(page.locator(".nav-toggle")).to_have_attribute("aria-expanded", "true")
