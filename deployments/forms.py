"""Forms of the Deploy wizard, one per step, validation only (the mapping step: mapping_form.py).

They turn what a person typed into the keyword arguments of
`deployment_create` and ask the service's own checks (the API's rules and
sentences) about them, so a step refuses what creation would refuse, every
problem at once, beside its field. Only what the answers make visible is
validated: a hidden field (Basic's number once Advanced is chosen, the
parallelism of a queue) never blocks a step. Field names are unique across
steps because the wizard carries the answers of the other steps in hidden
fields of one flat form.
"""

from __future__ import annotations

from typing import Any

from django import forms

from deployments.models import DeploymentMode, ExecutionRule
from deployments.schedules import schedule_error
from deployments.services.deployment_rules import (
    deployment_name_problem,
    deployment_settings_problems,
)
from platform_site.http.units import RAM_UNITS_MIB

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


class VisibleOnlyForm(forms.Form):
    """A form whose answers hide some fields: their errors are dropped, never shown."""

    def hidden_fields_for(self, data: dict[str, Any]) -> set[str]:
        return set()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in self.hidden_fields_for(self.data):
            self.errors.pop(name, None)
            data.pop(name, None)
        return data

    def add_problems(self, problems: dict[str, str], fields: dict[str, str]) -> None:
        """The service's problems beside the fields showing them (`fields`: service -> form)."""
        for key, message in problems.items():
            name = fields.get(key)
            if name in self.fields and name not in self.errors:
                self.add_error(name, message)
            elif name is None:
                self.add_error(None, message)


class GeneralForm(VisibleOnlyForm):
    """Step 1: name, description, execution mode and execution timeout."""

    name = forms.CharField(
        max_length=63,
        error_messages={"required": "Enter a name for the deployment."},
    )
    description = forms.CharField(required=False, widget=forms.Textarea)
    mode = forms.ChoiceField(
        choices=DeploymentMode.choices, initial=DeploymentMode.ELASTIC
    )
    execution_timeout_s = forms.IntegerField(
        required=False,
        error_messages={"invalid": "Enter a whole number of seconds."},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "name" in data:
            problem = deployment_name_problem(data["name"])
            if problem:
                self.add_error("name", problem)
        if "mode" in data and "execution_timeout_s" not in self.errors:
            problems = deployment_settings_problems(
                mode=data["mode"], execution_timeout_s=data.get("execution_timeout_s")
            )
            self.add_problems(
                problems, {"mode": "mode", "execution_timeout_s": "execution_timeout_s"}
            )
        return data


class ExecutionForm(VisibleOnlyForm):
    """Step 2 (low latency only): queue or parallel executions, RAM and GPU requests."""

    management = forms.ChoiceField(
        choices=[("queue", "Queue (FIFO)"), ("parallel", "Parallel")],
        initial="queue",
    )
    parallelism = forms.IntegerField(
        initial=6,
        required=False,
        error_messages={"invalid": "Enter a whole number of executions."},
    )
    ram_value = forms.IntegerField(
        initial=1,
        error_messages={
            "required": "Enter the RAM this deployment needs, for example 1 GiB.",
            "invalid": "Enter a whole number.",
        },
    )
    ram_unit = forms.ChoiceField(choices=[(u, u) for u in RAM_UNITS_MIB], initial="GiB")
    gpu_request = forms.IntegerField(
        initial=0,
        required=False,
        error_messages={"invalid": "Enter a whole number of GPUs."},
    )

    def hidden_fields_for(self, data: dict[str, Any]) -> set[str]:
        return {"parallelism"} if data.get("management") != "parallel" else set()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        parallel = data.get("management") == "parallel"
        if (
            parallel
            and data.get("parallelism") is None
            and "parallelism" not in self.errors
        ):
            self.add_error(
                "parallelism",
                "Enter the number of parallel executions (1 or more).",
            )
        if self.errors:
            return data
        problems = deployment_settings_problems(
            mode=DeploymentMode.LOW_LATENCY,
            enable_parallel_executions=parallel,
            max_parallel_executions_per_pod=data["parallelism"] if parallel else None,
            ram_request=self.ram_request,
            gpu_request=data.get("gpu_request") or None,
        )
        self.add_problems(
            problems,
            {
                "max_parallel_executions_per_pod": "parallelism",
                "ram_request": "ram_value",
                "gpu_request": "gpu_request",
            },
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


BASIC_FIELDS = ("basic_value", "basic_unit", "basic_time", "basic_weekday", "basic_day")
# The basic fields each unit shows (the others are hidden by the page's CSS).
BASIC_UNIT_FIELDS = {
    "minutes": {"basic_value", "basic_unit"},
    "hours": {"basic_value", "basic_unit", "basic_time"},
    "days": {"basic_value", "basic_unit", "basic_time"},
    "weeks": {"basic_value", "basic_unit", "basic_time", "basic_weekday"},
    "months": {"basic_value", "basic_unit", "basic_time", "basic_day"},
}
EVERY_TOO_SMALL = "Every: enter a whole number of 1 or more."


class TriggerForm(VisibleOnlyForm):
    """Step 3: endpoint, or periodic with a basic (unit + value) or CRON schedule."""

    execution_rule = forms.ChoiceField(
        choices=ExecutionRule.choices, initial=ExecutionRule.ENDPOINT
    )
    schedule_mode = forms.ChoiceField(
        choices=[("basic", "Basic"), ("advanced", "Advanced (CRON)")],
        initial="basic",
        required=False,
    )
    basic_value = forms.IntegerField(
        initial=15, required=False, error_messages={"invalid": EVERY_TOO_SMALL}
    )
    basic_unit = forms.ChoiceField(
        choices=UNIT_CHOICES, initial="minutes", required=False
    )
    basic_time = forms.TimeField(
        initial="00:00",
        required=False,
        error_messages={"invalid": "At: enter a time as HH:MM (UTC)."},
    )
    basic_weekday = forms.ChoiceField(
        choices=WEEKDAY_CHOICES, initial="1", required=False
    )
    basic_day = forms.IntegerField(
        min_value=1,
        max_value=31,
        initial=1,
        required=False,
        error_messages={
            "invalid": "Day of month: enter 1 to 31.",
            "min_value": "Day of month: enter 1 to 31.",
            "max_value": "Day of month: enter 1 to 31.",
        },
    )
    schedule = forms.CharField(max_length=200, required=False)

    def hidden_fields_for(self, data: dict[str, Any]) -> set[str]:
        every = {*BASIC_FIELDS, "schedule", "schedule_mode"}
        if data.get("execution_rule") != ExecutionRule.PERIODIC:
            return every
        if data.get("schedule_mode") == "advanced":
            return set(BASIC_FIELDS)
        unit = data.get("basic_unit")
        shown = BASIC_UNIT_FIELDS.get(unit or "minutes", set(BASIC_FIELDS))
        return every - shown - {"schedule_mode"}

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
        if value < 1:
            self.add_error("basic_value", EVERY_TOO_SMALL)
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
