"""What later apps add to the pipeline pages, so that pipelines never imports them.

A pipeline's page also shows its latest executions, metrics and Run form
(executions) and its deployments (deployments). Those apps register here in
their AppConfig.ready(): a named context for the detail page, and an
annotation of the list's queryset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest

from pipelines.models import Pipeline

DetailContext = Callable[[Pipeline, HttpRequest | None], dict[str, Any]]
ListAnnotation = Callable[[QuerySet[Pipeline]], QuerySet[Pipeline]]

_detail_contexts: dict[str, DetailContext] = {}
_list_annotations: dict[str, ListAnnotation] = {}


def detail_context_register(name: str, provider: DetailContext) -> None:
    """Add `provider`'s values to every pipeline page's context (one name, one provider)."""
    _detail_contexts[name] = provider


def list_annotation_register(name: str, annotate: ListAnnotation) -> None:
    """Annotate the pipeline list's queryset (e.g. last run, deployment count)."""
    _list_annotations[name] = annotate


def detail_context(
    pipeline: Pipeline, request: HttpRequest | None = None, *, only: str | None = None
) -> dict[str, Any]:
    """Every registered part of the page, or the one named `only` (a live fragment)."""
    context: dict[str, Any] = {}
    for name, provider in _detail_contexts.items():
        if only is None or name == only:
            context.update(provider(pipeline, request))
    return context


def list_annotate(pipelines: QuerySet[Pipeline]) -> QuerySet[Pipeline]:
    for annotate in _list_annotations.values():
        pipelines = annotate(pipelines)
    return pipelines
