"""The Deploy wizard's mapping step: a source for every pipeline input, a destination for every output.

Each row offers the sources mapping_rules.py allows for its input or output
and is checked by the same rules as the API, so both faces accept the same
mappings and refuse them with the same sentences.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms

from deployments.forms import VisibleOnlyForm
from deployments.mapping_rules import (
    mapping_input_check,
    mapping_output_check,
    sources_for,
)
from pipelines.io_rules import MAPPING_LABELS, MappingType, parse_text
from pipelines.models import Pipeline
from platform_site.http.errors import ValidationFailed

# The field holding each source's value, where the service's objection is shown.
VALUE_FIELD = {
    MappingType.ENDPOINT: "endpoint",
    MappingType.CONSTANT: "constant",
    MappingType.ENVIRONMENT_VARIABLE: "env",
    MappingType.DATASTORE: "datastore",
}


class MappingForm(VisibleOnlyForm):
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
        endpoint_default = (
            MappingType.ENDPOINT if MappingType.ENDPOINT in sources else ""
        )
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
            is_required = item.get("is_required") is True
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

    def hidden_fields_for(self, data: dict[str, Any]) -> set[str]:
        """Every row's value fields but those of its chosen source."""
        hidden = set()
        for row in self.rows:
            prefix = row["prefix"]
            source = data.get(f"{prefix}_source")
            shown = {f"{prefix}_source", f"{prefix}_{VALUE_FIELD.get(source, '')}"}
            if source == MappingType.ENDPOINT:
                shown |= {f"{prefix}_required", f"{prefix}_default"}
            hidden |= {f"{prefix}_{name}" for name in row["fields"]} - shown
        return hidden

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
            noun = "source" if direction == "input" else "destination"
            self.add_error(
                f"{prefix}_source", f"Choose a {noun} for {direction} “{name}”."
            )
            return None
        entry: dict[str, Any] = {key: name}
        if source == MappingType.ENDPOINT:
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
        elif source == MappingType.CONSTANT:
            try:
                entry["constant_value"] = parse_text(
                    data.get(f"{prefix}_constant") or "", data_type
                )
            except ValueError as exc:
                self.add_error(f"{prefix}_constant", f"{name} ({data_type}): {exc}")
                return None
        elif source == MappingType.ENVIRONMENT_VARIABLE:
            variable = (data.get(f"{prefix}_env") or "").strip()
            if not variable:
                self.add_error(f"{prefix}_env", "Enter an environment variable name.")
                return None
            entry["environment_variable_name"] = variable
        elif source == MappingType.DATASTORE:
            path = (data.get(f"{prefix}_datastore") or "").strip()
            if not path:
                self.add_error(f"{prefix}_datastore", "Enter a data store path.")
                return None
            entry["datastore_path"] = path
        else:
            entry["is_null"] = True
        return self._service_check(row, entry, source)

    def _service_check(
        self, row: dict[str, Any], entry: dict[str, Any], source: str
    ) -> dict[str, Any] | None:
        """The API's own check of this row's mapping; its sentence goes beside the value."""
        direction, prefix = row["direction"], row["prefix"]
        check = mapping_input_check if direction == "input" else mapping_output_check
        where = f"{direction}s_mapping"
        try:
            return check(entry, row["item"], self.execution_rule, where)
        except ValidationFailed as exc:
            field = VALUE_FIELD.get(source, "source")
            if f"{prefix}_{field}" not in self.fields:
                field = "source"
            self.add_error(f"{prefix}_{field}", exc.message.removeprefix(f"{where}: "))
            return None

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
    if source == MappingType.ENDPOINT and data_type == "file":
        return "Endpoint file"
    return MAPPING_LABELS.get(MappingType(source), source)


def _as_text(value: Any, data_type: str) -> str:
    if value is None:
        return ""
    if data_type == "string":
        return str(value)
    return json.dumps(value)
