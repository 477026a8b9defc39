"""Forms of the Deploy wizard: one per step, validation only.

They turn what a person typed into the keyword arguments of
`deployment_create`; the service re-checks everything (the API shares it).
Field names are unique across steps because the wizard carries the answers of
the other steps in hidden fields of one flat form.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from deployments.io_rules import parse_text
from deployments.mappings import sources_for
from deployments.models import (
    Deployment,
    DeploymentMode,
    ExecutionRule,
    Pipeline,
    name_validator,
)
from deployments.schedules import schedule_error
from platform_site.units import RAM_UNITS_MIB

MODE_HELP = {
    DeploymentMode.ELASTIC: "Stands by when unused and starts a fresh, isolated process for every execution: it spares the environment's resources.",
    DeploymentMode.LOW_LATENCY: "Always active: one warm process loads your function once and runs executions faster.",
}
RULE_HELP = {
    ExecutionRule.ENDPOINT: "Triggered by an external call (curl, an application) to an authenticated URL.",
    ExecutionRule.PERIODIC: "Triggered by a schedule (CRON, in UTC), without any human intervention.",
}


UNIT_CHOICES = [
    ("minutes", "minutes"),
    ("hours", "hours"),
    ("days", "days"),
    ("weeks", "weeks"),
    ("months", "months"),
]
# Highest "every N" each unit can express in one CRON field.
UNIT_MAX = {"minutes": 59, "hours": 23, "days": 31, "weeks": 1, "months": 12}
WEEKDAY_CHOICES = [
    ("1", "Monday"),
    ("2", "Tuesday"),
    ("3", "Wednesday"),
    ("4", "Thursday"),
    ("5", "Friday"),
    ("6", "Saturday"),
    ("0", "Sunday"),
]

SOURCE_LABELS = {
    "endpoint": "Endpoint value",
    "constant": "Constant",
    "environment_variable": "Environment variable",
    "datastore": "Data store file",
    "is_null": "None (null)",
}


class GeneralForm(forms.Form):
    """Step 1: name, description and execution mode."""

    name = forms.CharField(max_length=63, validators=[name_validator])
    description = forms.CharField(required=False, widget=forms.Textarea)
    mode = forms.ChoiceField(
        choices=DeploymentMode.choices, initial=DeploymentMode.ELASTIC
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if Deployment.objects.filter(name=name).exists():
            raise ValidationError(f"A deployment named “{name}” already exists.")
        return name


class ExecutionForm(forms.Form):
    """Step 2 (low latency only): queue or parallel executions, RAM request."""

    management = forms.ChoiceField(
        choices=[("queue", "Queue (FIFO)"), ("parallel", "Parallel")],
        initial="queue",
    )
    parallelism = forms.IntegerField(min_value=1, initial=6, required=False)
    ram_value = forms.IntegerField(min_value=1, initial=1)
    ram_unit = forms.ChoiceField(choices=[(u, u) for u in RAM_UNITS_MIB], initial="GiB")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("management") == "parallel" and not data.get("parallelism"):
            self.add_error(
                "parallelism", "Enter the number of parallel executions (1 or more)."
            )
        return data

    @property
    def ram_request(self) -> str:
        return f"{self.cleaned_data['ram_value']}{self.cleaned_data['ram_unit']}"


def basic_schedule(
    *, unit: str, value: int, hour: int, minute: int, weekday: str, day: int
) -> str:
    """The CRON expression of "every <value> <unit>" (at hh:mm, on a weekday or day)."""
    every = "*" if value == 1 else f"*/{value}"
    if unit == "minutes":
        return f"{every} * * * *"
    if unit == "hours":
        return f"{minute} {every} * * *"
    if unit == "days":
        return f"{minute} {hour} {every} * *"
    if unit == "weeks":
        return f"{minute} {hour} * * {weekday}"
    return f"{minute} {hour} {day} {every} *"


class TriggerForm(forms.Form):
    """Step 3: endpoint, or periodic with a basic (unit + value) or CRON schedule."""

    execution_rule = forms.ChoiceField(
        choices=ExecutionRule.choices, initial=ExecutionRule.ENDPOINT
    )
    schedule_mode = forms.ChoiceField(
        choices=[("basic", "Basic"), ("advanced", "Advanced (CRON)")],
        initial="basic",
        required=False,
    )
    basic_value = forms.IntegerField(min_value=1, initial=15, required=False)
    basic_unit = forms.ChoiceField(
        choices=UNIT_CHOICES, initial="minutes", required=False
    )
    basic_time = forms.TimeField(initial="00:00", required=False)
    basic_weekday = forms.ChoiceField(
        choices=WEEKDAY_CHOICES, initial="1", required=False
    )
    basic_day = forms.IntegerField(min_value=1, max_value=31, initial=1, required=False)
    schedule = forms.CharField(max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["cron"] = None
        if data.get("execution_rule") != ExecutionRule.PERIODIC or self.errors:
            return data
        if data.get("schedule_mode") == "advanced":
            cron, field = " ".join((data.get("schedule") or "").split()), "schedule"
        else:
            cron, field = self._basic_cron(data), "basic_value"
            if cron is None:
                return data
        error = schedule_error(cron)
        if error:
            self.add_error(field, error)
        else:
            data["cron"] = cron
        return data

    def _basic_cron(self, data: dict[str, Any]) -> str | None:
        unit = data.get("basic_unit") or "minutes"
        value = data.get("basic_value")
        if value is None:
            self.add_error("basic_value", f"Enter how many {unit} between runs.")
            return None
        if value > UNIT_MAX[unit]:
            message = (
                "CRON can only say “every week”: use 1, or the advanced mode."
                if unit == "weeks"
                else f"Every {value} {unit} cannot be written in CRON: use 1 to {UNIT_MAX[unit]}, or the advanced mode."
            )
            self.add_error("basic_value", message)
            return None
        at = data.get("basic_time")
        return basic_schedule(
            unit=unit,
            value=value,
            hour=at.hour if at else 0,
            minute=at.minute if at else 0,
            weekday=data.get("basic_weekday") or "1",
            day=data.get("basic_day") or 1,
        )


class MappingForm(forms.Form):
    """Step 4: a source for every pipeline input, a destination for every output.

    Fields are per position (in0_source, in0_endpoint, ..., out0_source) so
    any input name stays out of HTML names; `rows` gives the template the
    bound fields of each input and output.
    """

    def __init__(
        self,
        *args: Any,
        pipeline: Pipeline,
        execution_rule: str,
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        self.pipeline = pipeline
        self.execution_rule = execution_rule
        self.rows: list[dict[str, Any]] = []
        for index, item in enumerate(pipeline.inputs or []):
            self._add_row("input", f"in{index}", item)
        for index, item in enumerate(pipeline.outputs or []):
            self._add_row("output", f"out{index}", item)

    def _add_row(self, direction: str, prefix: str, item: dict[str, Any]) -> None:
        data_type = item.get("data_type", "string")
        sources = sources_for(self.execution_rule, data_type, direction)
        choices = [(s, _source_label(s, data_type)) for s in sources]
        endpoint_default = "endpoint" if "endpoint" in sources else ""
        self.fields[f"{prefix}_source"] = forms.ChoiceField(
            choices=[("", "— choose —"), *choices],
            initial=endpoint_default,
            required=False,
        )
        self.fields[f"{prefix}_endpoint"] = forms.CharField(
            max_length=200, required=False, initial=item["name"]
        )
        self.fields[f"{prefix}_datastore"] = forms.CharField(
            max_length=1000, required=False
        )
        if direction == "input":
            is_required = item.get("is_required", True) is not False
            default = item.get("default_value")
            self.fields[f"{prefix}_required"] = forms.ChoiceField(
                choices=[("yes", "Required"), ("no", "Optional")],
                initial="yes" if is_required else "no",
                required=False,
            )
            self.fields[f"{prefix}_default"] = forms.CharField(
                required=False, initial=_as_text(default, data_type)
            )
            self.fields[f"{prefix}_constant"] = forms.CharField(
                required=False, strip=False
            )
            self.fields[f"{prefix}_env"] = forms.CharField(
                max_length=200, required=False
            )
        self.rows.append(
            {
                "direction": direction,
                "prefix": prefix,
                "item": item,
                "data_type": data_type,
                "sources": sources,
                "fields": {
                    name.removeprefix(f"{prefix}_"): self[name]
                    for name in self.fields
                    if name.startswith(f"{prefix}_")
                },
            }
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self.inputs_mapping: list[dict[str, Any]] = []
        self.outputs_mapping: list[dict[str, Any]] = []
        endpoint_names: dict[str, set[str]] = {"input": set(), "output": set()}
        for row in self.rows:
            entry = self._clean_row(row, data, endpoint_names[row["direction"]])
            if entry is None:
                continue
            target = (
                self.inputs_mapping
                if row["direction"] == "input"
                else self.outputs_mapping
            )
            target.append(entry)
        return data

    def _clean_row(
        self, row: dict[str, Any], data: dict[str, Any], taken: set[str]
    ) -> dict[str, Any] | None:
        prefix, item, direction = row["prefix"], row["item"], row["direction"]
        name, data_type = item["name"], row["data_type"]
        key = "pipeline_input_name" if direction == "input" else "pipeline_output_name"
        source = data.get(f"{prefix}_source")
        if not source:
            self.add_error(
                f"{prefix}_source", f"Choose a source for {direction} “{name}”."
            )
            return None
        entry: dict[str, Any] = {key: name}
        if source == "endpoint":
            endpoint_name = (data.get(f"{prefix}_endpoint") or "").strip()
            if not endpoint_name:
                self.add_error(
                    f"{prefix}_endpoint", "Enter the name used at the endpoint."
                )
                return None
            if endpoint_name in taken:
                self.add_error(
                    f"{prefix}_endpoint",
                    f"Another {direction} already uses the endpoint name “{endpoint_name}”.",
                )
                return None
            taken.add(endpoint_name)
            entry[f"endpoint_{direction}_name"] = endpoint_name
            if direction == "input":
                entry.update(self._endpoint_options(prefix, data, data_type))
        elif source == "constant":
            try:
                entry["constant_value"] = parse_text(
                    data.get(f"{prefix}_constant") or "", data_type
                )
            except ValueError as exc:
                self.add_error(f"{prefix}_constant", f"{name} ({data_type}): {exc}")
                return None
        elif source == "environment_variable":
            variable = (data.get(f"{prefix}_env") or "").strip()
            if not variable:
                self.add_error(f"{prefix}_env", "Enter an environment variable name.")
                return None
            entry["environment_variable_name"] = variable
        elif source == "datastore":
            path = (data.get(f"{prefix}_datastore") or "").strip()
            if not path:
                self.add_error(f"{prefix}_datastore", "Enter a data store path.")
                return None
            entry["datastore_path"] = path
        else:
            entry["is_null"] = True
        return entry

    def _endpoint_options(
        self, prefix: str, data: dict[str, Any], data_type: str
    ) -> dict[str, Any]:
        options: dict[str, Any] = {
            "is_required": data.get(f"{prefix}_required") != "no"
        }
        raw_default = data.get(f"{prefix}_default") or ""
        if raw_default.strip() and data_type != "file":
            try:
                options["default_value"] = parse_text(raw_default, data_type)
            except ValueError as exc:
                self.add_error(f"{prefix}_default", f"Default value: {exc}")
        return options


def _source_label(source: str, data_type: str) -> str:
    if source == "endpoint" and data_type == "file":
        return "Endpoint file"
    return SOURCE_LABELS.get(source, source)


def _as_text(value: Any, data_type: str) -> str:
    if value is None:
        return ""
    if data_type == "string":
        return str(value)
    return json.dumps(value)
