"""What deployments do when a lower app announces something (connected in DeploymentsConfig.ready)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet
from django.http import HttpRequest

from deployments.models import Deployment
from deployments.services.deployments import deployment_delete
from pipelines.models import Pipeline


def pipeline_dependents(pipeline: Pipeline, **_: Any) -> list[str]:
    """A pipeline with deployments is deleted only with force (pipelines/signals.py)."""
    return list(
        Deployment.objects.filter(pipeline=pipeline)
        .order_by("created_at")
        .values_list("name", flat=True)
    )


def pipeline_deleting(pipeline: Pipeline, **_: Any) -> list[dict]:
    # Through the deployments service, so their executions' files go too.
    deployments = Deployment.objects.filter(pipeline=pipeline).order_by("created_at")
    return [deployment_delete(deployment=d) for d in deployments]


def pipeline_deployments(pipeline: Pipeline, request: HttpRequest | None) -> dict:
    """The pipeline page lists its deployments (pipelines/pages.py)."""
    return {"deployments": list(pipeline.deployments.order_by("name"))}


def deployment_count(pipelines: QuerySet[Pipeline]) -> QuerySet[Pipeline]:
    return pipelines.annotate(deployment_count=Count("deployments"))
