"""One window rule for the three log routes the SDK calls (platform_site/http/log_window.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deployments.models import Deployment
from executions.models import Execution, LogLine, Trigger
from pipelines.models import PipelineLog
from tests.deployments.factories import make_pipeline, unique

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def routes():
    """The three log routes of one pipeline, deployment and execution, each with lines at T0, +1 s, +2 s."""
    pipeline = make_pipeline()
    deployment = Deployment.objects.create(
        name=unique("logs"), pipeline=pipeline, execution_rule="endpoint"
    )
    execution = Execution.objects.create(
        execution_id=unique("logs"),
        pipeline=pipeline,
        pipeline_name=pipeline.name,
        deployment=deployment,
        deployment_name=deployment.name,
        trigger=Trigger.ENDPOINT,
        timeout_s=60,
        memory_limit_mib=512,
    )
    for n in range(3):
        at = T0 + timedelta(seconds=n)
        PipelineLog.objects.create(pipeline=pipeline, timestamp=at, message=f"line {n}")
        LogLine.objects.create(
            execution=execution, seq=n, timestamp=at, message=f"line {n}"
        )
    return {
        "pipeline": (f"/api/v1/pipelines/{pipeline.name}/logs", lambda body: body),
        "deployment": (
            f"/api/v1/deployments/{deployment.name}/logs",
            lambda body: body,
        ),
        "execution": (
            f"/api/v1/executions/{execution.execution_id}/logs",
            lambda body: body[0],
        ),
    }


@pytest.mark.parametrize("route", ["pipeline", "deployment", "execution"])
def test_from_is_inclusive_to_exclusive_and_limit_the_first_lines(
    api_client, routes, route
):
    url, lines = routes[route]

    def messages(**window):
        response = api_client.post(url, window, content_type="application/json")
        assert response.status_code == 200, response.content
        return [line["message"] for line in lines(response.json())]

    assert messages() == ["line 0", "line 1", "line 2"]
    assert messages(**{"from": ms(T0 + timedelta(seconds=1))}) == ["line 1", "line 2"]
    assert messages(to=ms(T0 + timedelta(seconds=1))) == ["line 0"]
    assert messages(limit=2) == ["line 0", "line 1"]
    assert messages(limit=0) == []


@pytest.mark.parametrize("route", ["pipeline", "deployment", "execution"])
@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"from": "yesterday"}, "from"),
        ({"to": True}, "to"),
        ({"to": 1e30}, "to"),
        ({"limit": -1}, "limit"),
        ({"limit": 1.5}, "limit"),
    ],
)
def test_a_bad_window_is_a_400_naming_its_field(
    api_client, routes, route, window, field
):
    url, _lines = routes[route]

    response = api_client.post(url, window, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["name"] == "ValidationError"
    assert response.json()["message"].startswith(f"{field}: ")
