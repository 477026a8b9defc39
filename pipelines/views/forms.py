"""The "New pipeline" form: plain fields, input/output rows, and the uploaded code.

Rows are posted as `inputs[<row id>][name]` (the client's bracket format), so
`pipelines.sdk_multipart.rebuild` reads them back in page order. Only form
mechanics live here; every rule on names, types and paths is in
`pipelines.services.validation`, reached through `pipeline_create`.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import tarfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.http import QueryDict

from pipelines.sdk_multipart import FormShapeError, rebuild, to_bool, to_number
from platform_site.http.bodies import MalformedJson, json_loads

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
ROW_ID = re.compile(r"^r[0-9a-f]{6,16}$")
KEPT_TOKEN = re.compile(r"^[0-9a-f]{32}$")
# Browsers cannot put a file back in a file input: the upload of a form that
# came back with errors waits here, under its owner's id, until the next post.
KEPT_DIR = "kept-uploads"
KINDS = ("input", "output")


def new_row_id() -> str:
    return "r" + secrets.token_hex(4)


@dataclass
class Row:
    row_id: str
    name: str = ""
    data_type: str = "string"
    is_required: bool = False
    default_value: str = ""
    description: str = ""


@dataclass
class PipelineForm:
    values: dict[str, str] = field(default_factory=dict)
    inputs: list[Row] = field(default_factory=list)
    outputs: list[Row] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    kept_token: str = ""
    kept_name: str = ""

    def rows(self, kind: str) -> list[Row]:
        return self.inputs if kind == "input" else self.outputs


TEXT_FIELDS = (
    "pipeline_name",
    "function_path",
    "function_name",
    "description",
    "requirements_path",
)


def _rows(data: dict[str, Any], key: str) -> list[Row]:
    raw = data.get(key)
    if isinstance(raw, list):  # row ids that happen to be 0..n-1
        raw = {str(i): item for i, item in enumerate(raw)}
    if not isinstance(raw, dict):
        return []
    rows = []
    for row_id, item in raw.items():
        if not isinstance(item, dict) or not ROW_ID.match(str(row_id)):
            continue
        rows.append(
            Row(
                row_id=str(row_id),
                name=str(item.get("name", "")).strip(),
                data_type=str(item.get("data_type", "string")),
                is_required=to_bool(item.get("is_required", "")) is True,
                default_value=str(item.get("default_value", "")),
                description=str(item.get("description", "")).strip(),
            )
        )
    return rows


def form_from_post(post: QueryDict) -> PipelineForm:
    form = PipelineForm(values={key: post.get(key, "").strip() for key in TEXT_FIELDS})
    try:
        data = rebuild(
            (key, values[-1])
            for key, values in post.lists()
            if key.startswith(("inputs[", "outputs["))
        )
    except FormShapeError:
        data = {}
    form.inputs = _rows(data, "inputs")
    form.outputs = _rows(data, "outputs")
    return form


def apply_row_buttons(form: PipelineForm, post: QueryDict) -> bool:
    """The no-JavaScript "Add"/"Remove" buttons; True when one was pressed."""
    added = post.get("add")
    if added in KINDS:
        form.rows(added).append(Row(row_id=new_row_id()))
        return True
    removed = post.get("remove")
    if removed:
        form.inputs = [row for row in form.inputs if row.row_id != removed]
        form.outputs = [row for row in form.outputs if row.row_id != removed]
        return True
    return False


def typed_default(row: Row) -> Any:
    """The row's default value typed by its data type; ValueError naming the input."""
    text = row.default_value.strip() if row.data_type != "string" else row.default_value
    if text == "":
        return None
    if row.data_type == "number":
        number = to_number(text)
        if number is None:
            raise ValueError(f"Default value of input '{row.name}' must be a number")
        return number
    if row.data_type == "boolean":
        flag = to_bool(text)
        if flag is None:
            raise ValueError(
                f"Default value of input '{row.name}' must be true or false"
            )
        return flag
    if row.data_type in ("json", "array"):
        try:
            return json_loads(text)
        except MalformedJson:
            raise ValueError(
                f"Default value of input '{row.name}' must be valid JSON"
            ) from None
    return text


def declared_inputs(form: PipelineForm) -> list[dict[str, Any]]:
    """Inputs for pipeline_create; blank rows are skipped; ValueError on bad defaults."""
    inputs = []
    for row in form.inputs:
        if not row.name:
            continue
        inputs.append(
            {
                "name": row.name,
                "data_type": row.data_type,
                "is_required": row.is_required,
                "default_value": typed_default(row),
                "description": row.description or None,
            }
        )
    return inputs


def declared_outputs(form: PipelineForm) -> list[dict[str, Any]]:
    return [
        {
            "name": row.name,
            "data_type": row.data_type,
            "description": row.description or None,
        }
        for row in form.outputs
        if row.name
    ]


def is_single_file(upload: UploadedFile) -> bool:
    return (upload.name or "").lower().endswith(".py")


def code_archive(upload: UploadedFile, function_path: str) -> tuple[bytes, str]:
    """(archive bytes, function path) from the uploaded .py file or archive.

    A single .py file is wrapped in a tar.gz under its own name (or under
    function_path when one was typed). ValueError names the problem.
    """
    filename = PurePosixPath(upload.name or "").name
    lowered = filename.lower()
    if lowered.endswith(".py"):
        path = function_path or filename
        buffer = io.BytesIO()
        content = upload.read()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            info = tarfile.TarInfo(name=path)
            info.size = len(content)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(content))
        return buffer.getvalue(), path
    if lowered.endswith(ARCHIVE_SUFFIXES):
        return upload.read(), function_path
    raise ValueError("Upload a .py file, or a .zip or .tar.gz archive")


def _kept_dir(user_id: int, token: str) -> Any:
    return settings.DATA_DIR / KEPT_DIR / str(int(user_id)) / token


def upload_keep(upload: UploadedFile, *, user_id: int) -> tuple[str, str]:
    """(token, file name) of a copy of `upload` kept for the form's next post."""
    token = secrets.token_hex(16)
    name = PurePosixPath(upload.name or "code").name or "code"
    folder = _kept_dir(user_id, token)
    folder.mkdir(parents=True, mode=0o700)
    upload.seek(0)
    (folder / "upload").write_bytes(upload.read())
    (folder / "name").write_text(name)
    upload.seek(0)
    return token, name


def upload_kept(token: str, *, user_id: int) -> UploadedFile | None:
    """The upload kept under `token` for this user; None when there is none."""
    if not KEPT_TOKEN.match(token or ""):
        return None
    folder = _kept_dir(user_id, token)
    try:
        content = (folder / "upload").read_bytes()
        name = (folder / "name").read_text()
    except OSError:
        return None
    return SimpleUploadedFile(name, content)


def upload_forget(token: str, *, user_id: int) -> None:
    """Drop a kept upload once the pipeline is created (nothing when there is none)."""
    if not KEPT_TOKEN.match(token or ""):
        return
    folder = _kept_dir(user_id, token)
    for name in ("upload", "name"):
        (folder / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # another file left there: keep the folder
        folder.rmdir()
