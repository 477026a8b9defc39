from __future__ import annotations

import pytest

from executions.models import Trigger
from executions.services import input_values_resolve
from executions.services.creation import (
    BuiltExecution,
    execution_build,
    executions_save,
)
from pipelines.models import Pipeline, PipelineStatus


@pytest.fixture
def pipeline(alice):
    return Pipeline.objects.create(
        name="adder",
        function_path="main.py",
        function_name="add",
        created_by=alice,
        status=PipelineStatus.READY,
        inputs=[
            {"name": "number1", "data_type": "number", "is_required": True},
            {
                "name": "number2",
                "data_type": "number",
                "is_required": False,
                "default_value": 2,
            },
            {"name": "label", "data_type": "string"},
        ],
        outputs=[{"name": "total", "data_type": "number"}],
    )


@pytest.fixture
def build_execution(pipeline, alice):
    """The rows of a Pending run of `pipeline`, not saved yet (given: its input values)."""

    def build(execution_pk=None, **given) -> BuiltExecution:
        inputs = input_values_resolve(
            pipeline=pipeline,
            given=given or {"number1": 1},
            files={},
            inputs_mapping=None,
            source="run",
        )
        return execution_build(
            pipeline=pipeline,
            trigger=Trigger.RUN,
            created_by=alice,
            inputs=inputs,
            outputs_mapping=None,
            execution_pk=execution_pk,
        )

    return build


@pytest.fixture
def make_execution(build_execution):
    def make(**given):
        built = build_execution(**given)
        executions_save([built])
        return built.execution

    return make
