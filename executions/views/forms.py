"""Forms of the execution pages: list filters and the Run form's fields."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from executions.models import ExecutionStatus
from executions.selectors import ExecutionFilters
from executions.services import coerce_text
from pipelines.io_rules import EXPECTED
from platform_site.http.errors import ValidationFailed

FIELD_PREFIX = "input-"


class ExecutionFilterForm(forms.Form):
    """The list's filters: names offered as choices, never typed."""

    pipeline = forms.ChoiceField(required=False)
    deployment = forms.ChoiceField(required=False)
    status = forms.ChoiceField(
        required=False, choices=[("", "Any status"), *ExecutionStatus.choices]
    )
    date_from = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self, *args: Any, pipelines: list[str], deployments: list[str], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = [
            ("", "Any pipeline"),
            *((name, name) for name in pipelines),
        ]
        self.fields["deployment"].choices = [
            ("", "Any deployment"),
            *((name, name) for name in deployments),
        ]

    def filters(self) -> ExecutionFilters:
        data = self.cleaned_data if self.is_valid() else {}
        return ExecutionFilters(
            pipeline=data.get("pipeline") or "",
            deployment=data.get("deployment") or "",
            status=data.get("status") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )


class VariableForm(forms.Form):
    name = forms.CharField(max_length=200)
    value = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _shown_default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def run_fields(
    pipeline, *, post=None, errors: dict[str, str] | None = None
) -> list[dict]:
    """One dict per declared input for the Run form (name, type, widget value, error)."""
    fields = []
    for declared in pipeline.inputs:
        name = declared["name"]
        raw = post.get(FIELD_PREFIX + name) if post is not None else None
        fields.append(
            {
                **declared,
                "field_name": FIELD_PREFIX + name,
                "value": raw
                if raw is not None
                else _shown_default(declared.get("default_value")),
                "expected": EXPECTED.get(declared["data_type"], declared["data_type"]),
                "error": (errors or {}).get(name),
            }
        )
    return fields


def parse_run_form(pipeline, post, files) -> tuple[dict, dict, dict[str, str]]:
    """(values, files, errors by input name) from the Run form's text fields and uploads."""
    values: dict[str, Any] = {}
    uploads: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for declared in pipeline.inputs:
        name, data_type = declared["name"], declared["data_type"]
        key = FIELD_PREFIX + name
        if data_type == "file":
            if key in files:
                uploads[name] = files[key]
            continue
        raw = post.get(key, "")
        if raw == "":
            continue  # left empty: the default or "required" rule applies
        try:
            values[name] = coerce_text(name=name, data_type=data_type, raw=raw)
        except ValidationFailed as exc:
            errors[name] = exc.message
    return values, uploads, errors
