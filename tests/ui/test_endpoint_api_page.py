"""An endpoint's interactive API page: Swagger UI from vendored assets, a real call from it."""

from __future__ import annotations

import uuid

import pytest
from craft_ai_sdk.io import Input, InputSource, Output
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.e2e]

DOUBLER = """
def double(number):
    return {"twice": number * 2}
"""


def test_it_documents_the_endpoint_and_calls_it(
    page: Page, live_platform, tmp_path, shoot
):
    sdk = live_platform.sdk()
    (tmp_path / "main.py").write_text(DOUBLER)
    pipeline = f"doubler-{uuid.uuid4().hex[:8]}"
    sdk.create_pipeline(
        pipeline_name=pipeline,
        function_path="main.py",
        function_name="double",
        container_config={"local_folder": str(tmp_path)},
        inputs=[Input("number", "number", is_required=True)],
        outputs=[Output("twice", "number")],
    )
    name = f"{pipeline}-ep"
    created = sdk.create_deployment(
        pipeline_name=pipeline,
        deployment_name=name,
        execution_rule="endpoint",
        inputs_mapping=[
            InputSource(pipeline_input_name="number", endpoint_input_name="n")
        ],
    )
    outside = []
    page.on(
        "request",
        lambda r: (
            outside.append(r.url) if not r.url.startswith(live_platform.url) else None
        ),
    )

    page.goto(f"{live_platform.url}/deployments/{name}/")
    page.click("#api-docs-link")
    operation = page.locator(".opblock-post")
    expect(operation).to_contain_text(f"/endpoints/{name}")
    shoot("endpoint-api-page")

    page.click(".authorize")
    page.fill(".auth-container input", f"EndpointToken {created['endpoint_token']}")
    page.click(".auth-btn-wrapper .authorize")
    page.click(".btn-done")
    operation.locator(".opblock-summary").click()
    page.click(".try-out__btn")
    page.fill(".body-param textarea", '{"n": 21}')
    page.click(".execute")
    expect(
        page.locator(".live-responses-table tbody .response-col_status").first
    ).to_have_text("200")
    expect(page.locator(".live-responses-table")).to_contain_text("42")
    shoot("endpoint-api-page-called")
    assert outside == []
