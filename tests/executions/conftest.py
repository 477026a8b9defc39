from __future__ import annotations

import pytest

from executions.models import Trigger
from executions.services import execution_create, input_values_resolve
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
def make_execution(pipeline, alice):
    def make(**given):
        inputs = input_values_resolve(
            pipeline=pipeline,
            given=given or {"number1": 1},
            files={},
            inputs_mapping=None,
            source="run",
        )
        return execution_create(
            pipeline=pipeline,
            trigger=Trigger.RUN,
            created_by=alice,
            inputs=inputs,
            outputs_mapping=None,
        )

    return make
