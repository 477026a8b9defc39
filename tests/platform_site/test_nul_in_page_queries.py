"""A NUL in a page's query string is refused (400) as on the API, never a 500 from PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "url",
    [
        "/?window=%00",
        "/executions/?q=a%00b",
        "/executions/?pipeline=a%00b",
        "/executions/?before=a%00b",
        "/pipelines/?q=a%00b",
        "/executions/x-1/logs.txt?q=%00",
    ],
)
def test_a_nul_in_a_page_query_is_refused(alice_client, url):
    response = alice_client.get(url)
    assert response.status_code == 400
    assert b"NUL" in response.content
