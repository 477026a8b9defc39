"""pipeline_build: extraction, function checks and the one-line failure reasons."""

from __future__ import annotations

import io
import tarfile
from datetime import timedelta

from django.utils import timezone

from pipelines.models import Pipeline, PipelineStatus
from pipelines.services.pipelines import (
    BUILD_LOCK_KEY,
    pipeline_build,
    pipeline_create,
    pipeline_requeue_stale,
)
from platform_site.celery import app as celery_app
from platform_site.clients.redis_client import redis_client

MAIN = "def f(a, b=2):\n    return {'s': a + b}\n"


def code_tar(
    files: dict[str, str | bytes], *, extra: list[tarfile.TarInfo] = ()
) -> bytes:
    """A gzip tar like the one the official client uploads."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info, io.BytesIO(b"boom"))
    return buffer.getvalue()


def create(alice, *, files=None, inputs=None, function_name="f", **kwargs):
    return pipeline_create(
        name=kwargs.pop("name", "p1"),
        function_path=kwargs.pop("function_path", "src/main.py"),
        function_name=function_name,
        inputs=[{"name": "a", "data_type": "number"}] if inputs is None else inputs,
        outputs=[{"name": "s", "data_type": "number"}],
        archive=code_tar(files or {"src/main.py": MAIN}),
        created_by=alice,
        **kwargs,
    )


def build(pipeline):
    pipeline_build(pipeline_id=pipeline.id)
    pipeline.refresh_from_db()
    return [line.message for line in pipeline.logs.order_by("timestamp", "id")]


def test_it_builds_a_ready_pipeline(alice):
    pipeline = create(alice)

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.READY
    assert lines[0] == "Pipeline creation requested by alice"
    assert lines[-1] == "Pipeline is ready"
    assert (pipeline.code_dir / "src/main.py").read_text() == MAIN


def test_it_does_nothing_for_a_final_pipeline(alice):
    pipeline = create(alice)
    build(pipeline)

    assert pipeline_build(pipeline_id=pipeline.id) is None


def test_it_accepts_async_functions(alice):
    pipeline = create(alice, files={"src/main.py": "async def f(a):\n    return {}\n"})

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.READY
    assert "The async function f() accepts the declared inputs" in lines


def test_it_fails_when_the_function_is_missing(alice):
    pipeline = create(alice, function_name="predict")

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.CREATION_FAILED
    assert "Function 'predict' not found in src/main.py" in lines


def test_it_fails_when_the_function_file_is_missing(alice):
    pipeline = create(alice, function_path="src/other.py")

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.CREATION_FAILED
    assert "Function file 'src/other.py' not found in the uploaded code" in lines


def test_it_fails_on_an_input_the_function_cannot_take(alice):
    pipeline = create(
        alice,
        inputs=[
            {"name": "a", "data_type": "number"},
            {"name": "x", "data_type": "string"},
        ],
    )

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.CREATION_FAILED
    assert "Input 'x' is declared but f() takes no parameter named 'x'" in lines


def test_it_accepts_any_input_with_kwargs(alice):
    pipeline = create(
        alice,
        files={"src/main.py": "def f(a, **rest):\n    return {}\n"},
        inputs=[
            {"name": "a", "data_type": "number"},
            {"name": "x", "data_type": "string"},
        ],
    )

    build(pipeline)

    assert pipeline.status == PipelineStatus.READY


def test_it_fails_on_a_required_parameter_without_input(alice):
    pipeline = create(alice, inputs=[])

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.CREATION_FAILED
    assert "f() requires parameter 'a' but no input named 'a' is declared" in lines


def test_it_logs_the_import_traceback(alice):
    pipeline = create(alice, files={"src/main.py": "import not_a_module_xyz\n"})

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.CREATION_FAILED
    assert any(
        line.startswith("Could not import src/main.py: ModuleNotFoundError")
        for line in lines
    )
    assert any("Traceback" in line for line in lines)


def test_it_keeps_user_prints_out_of_the_verdict(alice):
    pipeline = create(alice, files={"src/main.py": "print('{not json')\n" + MAIN})

    build(pipeline)

    assert pipeline.status == PipelineStatus.READY


def test_it_imports_sibling_modules(alice):
    pipeline = create(
        alice,
        files={
            "src/helpers.py": "def add(a, b):\n    return a + b\n",
            "src/main.py": "from helpers import add\n" + MAIN,
        },
    )

    build(pipeline)

    assert pipeline.status == PipelineStatus.READY


def test_it_does_not_leak_platform_secrets_to_user_code(alice, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "top-secret")
    code = (
        "import os\n"
        "if any(k in os.environ for k in ('SECRET_KEY', 'DATABASE_URL', 'REDIS_URL', 'DJANGO_SETTINGS_MODULE')):\n"
        "    raise RuntimeError('leaked ' + ','.join(sorted(os.environ)))\n" + MAIN
    )
    pipeline = create(alice, files={"src/main.py": code})

    build(pipeline)

    assert pipeline.status == PipelineStatus.READY


def test_it_fails_on_an_archive_escaping_the_folder(alice, settings):
    evil = tarfile.TarInfo("../evil")
    evil.size = 4
    pipeline = pipeline_create(
        name="p1",
        function_path="src/main.py",
        function_name="f",
        inputs=[{"name": "a", "data_type": "number"}],
        archive=code_tar({"src/main.py": MAIN}, extra=[evil]),
        created_by=alice,
    )

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.CREATION_FAILED
    assert (
        "Archive member '../evil' would be written outside the pipeline folder" in lines
    )
    assert not (pipeline.folder / "evil").exists()
    assert not (settings.PIPELINES_DIR / "evil").exists()


def test_it_fails_when_the_requirements_file_is_missing(alice):
    pipeline = create(alice, container_config={"requirements_path": "requirements.txt"})

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.CREATION_FAILED
    assert (
        "Requirements file 'requirements.txt' not found in the uploaded code" in lines
    )


def test_it_fails_when_pip_fails(alice):
    pipeline = create(
        alice,
        files={"src/main.py": MAIN, "requirements.txt": "./no-such-local-package\n"},
        container_config={"requirements_path": "requirements.txt"},
    )

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.CREATION_FAILED
    assert "Creating the pipeline's virtual environment" in lines
    assert any(
        line.startswith("Installing requirements from requirements.txt failed")
        for line in lines
    )


def test_it_notes_ignored_system_dependencies(alice):
    pipeline = create(alice, container_config={"system_dependencies": ["libgomp1"]})

    lines = build(pipeline)

    assert pipeline.status == PipelineStatus.READY
    assert any("system_dependencies" in line for line in lines)


def test_it_skips_a_pipeline_another_worker_is_building(alice):
    pipeline = create(alice)
    lock = redis_client().lock(BUILD_LOCK_KEY.format(id=pipeline.pk), timeout=30)
    assert lock.acquire(blocking=False)
    try:
        result = pipeline_build(pipeline_id=pipeline.pk)
    finally:
        lock.release()

    pipeline.refresh_from_db()
    assert result is None
    assert pipeline.status == PipelineStatus.CREATION_PENDING


def test_it_requeues_stale_pending_pipelines(alice, monkeypatch):
    sent = []
    monkeypatch.setattr(  # no broker here
        celery_app, "send_task", lambda name, args: sent.append((name, *args))
    )
    stale = create(alice)
    create(alice, name="p2")
    Pipeline.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(minutes=10)
    )

    count = pipeline_requeue_stale(older_than_s=120)

    assert count == 1
    assert sent == [("pipelines.build", str(stale.pk))]
