"""Small builders shared by the deployment tests (pipelines are written directly)."""

from __future__ import annotations

import uuid

from pipelines.models import Pipeline, PipelineStatus

CALC_INPUTS = [
    {"name": "number1", "data_type": "number", "is_required": True},
    {"name": "number2", "data_type": "number"},
    {"name": "label", "data_type": "string"},
    {"name": "upload", "data_type": "file"},
]
CALC_OUTPUTS = [
    {"name": "number3", "data_type": "number"},
    {"name": "report", "data_type": "file"},
]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_pipeline(
    *, name: str | None = None, inputs=None, outputs=None, status=PipelineStatus.READY
) -> Pipeline:
    return Pipeline.objects.create(
        name=name or unique("calc"),
        function_path="src/main.py",
        function_name="main",
        inputs=CALC_INPUTS if inputs is None else inputs,
        outputs=CALC_OUTPUTS if outputs is None else outputs,
        status=status,
    )
