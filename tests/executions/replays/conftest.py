from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from executions.models import Trigger
from executions.services import execution_create, input_values_resolve
from pipelines.models import Pipeline, PipelineStatus
from tests.executions.conftest import make_execution, pipeline  # noqa: F401


@pytest.fixture
def file_pipeline(alice):
    return Pipeline.objects.create(
        name="reader",
        function_path="main.py",
        function_name="read",
        created_by=alice,
        status=PipelineStatus.READY,
        inputs=[
            {"name": "doc", "data_type": "file"},
            {"name": "n", "data_type": "number"},
        ],
        outputs=[{"name": "size", "data_type": "number"}],
    )


@pytest.fixture
def with_file(file_pipeline, alice):
    inputs = input_values_resolve(
        pipeline=file_pipeline,
        given={"n": 3},
        files={"doc": SimpleUploadedFile("notes.txt", b"hello")},
        inputs_mapping=None,
        source="run",
    )
    return execution_create(
        pipeline=file_pipeline,
        trigger=Trigger.RUN,
        created_by=alice,
        inputs=inputs,
        outputs_mapping=None,
    )
