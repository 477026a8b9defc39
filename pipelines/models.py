from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

from runtime.sandbox import base_python

NAME_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"
NAME_RULE = "lowercase letters, digits and dashes, 1-63 characters, starting and ending with a letter or digit"
name_validator = RegexValidator(NAME_PATTERN, f"Names use {NAME_RULE}.")

DATA_TYPES = ("string", "number", "boolean", "json", "array", "file")


class PipelineStatus(models.TextChoices):
    CREATION_PENDING = "creation_pending"
    READY = "ready"
    CREATION_FAILED = "creation_failed"


class Pipeline(models.Model):
    """A registered Python function with typed inputs and outputs.

    `inputs` is a list of {name, data_type, is_required, default_value, description};
    `outputs` a list of {name, data_type, description}; order as declared.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=63, unique=True, validators=[name_validator])
    function_path = models.CharField(max_length=500)
    function_name = models.CharField(max_length=200)
    description = models.TextField(null=True, blank=True)
    inputs = models.JSONField(default=list)
    outputs = models.JSONField(default=list)
    container_config = models.JSONField(default=dict)
    status = models.CharField(
        max_length=20,
        choices=PipelineStatus.choices,
        default=PipelineStatus.CREATION_PENDING,
    )
    origin = models.CharField(max_length=20, default="local")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def folder(self):
        """Where the extracted code, the original archive and the virtualenv live."""
        return settings.PIPELINES_DIR / str(self.id)

    @property
    def code_dir(self):
        return self.folder / "code"

    @property
    def archive_path(self):
        return self.folder / "step_file.tar.gz"

    @property
    def runs_dir(self):
        """The executions' working folders (mounted read-write in the pipeline's sandbox)."""
        return self.folder / "runs"

    @property
    def venv_dir(self):
        return self.folder / "venv"

    @property
    def python_executable(self) -> str:
        """The pipeline's own virtualenv when it declared requirements, else the bare installation.

        Never the platform's virtualenv: user code must not import Django and
        our settings, nor depend on what we happen to install.
        """
        venv_python = self.venv_dir / "bin" / "python"
        return str(venv_python) if venv_python.exists() else base_python()

    @property
    def requirements_path(self) -> str | None:
        return (self.container_config or {}).get("requirements_path") or None

    def input(self, name: str) -> dict | None:
        return next((i for i in self.inputs if i["name"] == name), None)

    def output(self, name: str) -> dict | None:
        return next((o for o in self.outputs if o["name"] == name), None)


class PipelineArchive(models.Model):
    """A pipeline's uploaded code, kept in the database so that every worker machine reads it.

    Worker machines share no disk: each extracts (and builds the virtualenv
    of) its own copy on first use (pipelines/services/local.py),
    checked against `sha256`.
    """

    pipeline = models.OneToOneField(
        Pipeline, primary_key=True, on_delete=models.CASCADE, related_name="archive"
    )
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)


class PipelineLog(models.Model):
    """One line of a pipeline's creation log (archive checks, requirement installs)."""

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="logs"
    )
    timestamp = models.DateTimeField()
    message = models.TextField()

    class Meta:
        ordering = ["timestamp", "id"]
        # Named as when the table was deployments' (it moved here with its rows).
        indexes = [
            models.Index(
                fields=["pipeline", "timestamp"], name="deployments_pipelin_ca5b14_idx"
            )
        ]
