"""axe-core on every page, light and dark: no serious or critical violation."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.ui.test_any_screen import pages, served  # noqa: F401  (module fixture)

pytestmark = [pytest.mark.e2e]

BLOCKING = ("serious", "critical")


def _blocking(results: dict) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(
            f"{node['target']} ({node.get('failureSummary', '')})"
            for node in v["nodes"][:3]
        )
        for v in results["violations"]
        if v["impact"] in BLOCKING
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_has_no_serious_violation(
    page: Page,
    live_platform,
    served,  # noqa: F811
    scheme,
):
    page.emulate_media(color_scheme=scheme)
    axe = Axe()
    found: dict[str, list[str]] = {}
    for name, path in pages(served):
        page.goto(f"{live_platform.url}{path}")
        page.wait_for_load_state("networkidle")
        problems = _blocking(axe.run(page).response)
        if problems:
            found[name] = problems
    assert found == {}, "\n".join(f"{k}: {p}" for k, v in found.items() for p in v)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_login_page_has_no_serious_violation(browser, live_platform, scheme):
    context = browser.new_context(color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{live_platform.url}/accounts/login/")
    assert _blocking(Axe().run(page).response) == []
    context.close()
