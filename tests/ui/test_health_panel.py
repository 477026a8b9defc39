"""Health at a glance: a deployment's figures and the home page, against known executions."""

from __future__ import annotations

import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.ui.conftest import SCREENSHOTS
from tests.ui.test_any_screen import served  # noqa: F401  (module fixture)
from tests.ui.test_deploy_wizard import unique

pytestmark = [pytest.mark.e2e]

# (count, minutes ago, seconds it took, status), all within the last hour.
KNOWN = [(8, 10, 1.0, "Succeeded"), (2, 20, 3.0, "Failed")]


@pytest.fixture(scope="module")
def known(live_platform, served) -> str:  # noqa: F811
    """A fresh deployment holding exactly the KNOWN executions."""
    name = unique("ui-health")
    live_platform.sdk().create_deployment(
        pipeline_name=served["pipeline"],
        deployment_name=name,
        execution_rule="endpoint",
    )
    with psycopg.connect(live_platform.database_url, autocommit=True) as conn:
        for count, ago, took, status in KNOWN:
            conn.execute(
                """
                INSERT INTO executions_execution
                  (id, execution_id, pipeline_id, pipeline_name, deployment_id, deployment_name,
                   trigger, endpoint_token_name, status, status_reason, timeout_s, memory_limit_mib,
                   created_at, end_date, runner, attempts, log_line_count)
                SELECT gen_random_uuid(), d.name || '-known-' || %s || '-' || n, d.pipeline_id,
                       %s, d.id, d.name, 'endpoint', 'main token', %s,
                       CASE WHEN %s = 'Failed' THEN 'ValueError: known failure' END, 60, 512,
                       now() - %s * interval '1 minute',
                       now() - %s * interval '1 minute' + %s * interval '1 second', '', '[]', 0
                FROM deployments_deployment d, generate_series(1, %s) AS n
                WHERE d.name = %s
                """,
                [
                    status,
                    served["pipeline"],
                    status,
                    status,
                    ago,
                    ago,
                    took,
                    count,
                    name,
                ],
            )
    return name


def test_the_deployment_page_shows_its_figures(page: Page, live_platform, known):
    page.goto(f"{live_platform.url}/deployments/{known}/")
    hour = page.locator('#health-figures tr[data-window="0"]')
    expect(hour.locator(".calls")).to_have_text("10")
    expect(hour.locator(".rate")).to_have_text("0.17")
    expect(hour.locator(".p50")).to_have_text("1.0 s")
    expect(hour.locator(".p95")).to_have_text("3.0 s")
    expect(hour.locator(".errors")).to_contain_text("20 %")
    page.locator("#health").screenshot(path=_shot("health-panel-1366"))


def test_the_home_page_names_the_degraded_deployment(page: Page, live_platform, known):
    for width in (1366, 375):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_platform.url}/")
        expect(page.locator("#degraded")).to_contain_text(f"{known} (2/10)")
        # Other tests' failures may be newer than these backdated ones: the
        # list shows the latest, so only its presence is asserted here.
        expect(page.locator("#recent-failures")).to_contain_text("Failed")
        expect(page.locator("#platform-health .status")).to_be_visible()
        page.screenshot(path=_shot(f"home-{width}"), full_page=True)


def _shot(name: str) -> str:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return str(SCREENSHOTS / f"{name}.png")
