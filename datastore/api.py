"""The data store routes of /api/v1 (§7), as the official client calls them."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http import HttpRequest, QueryDict
from ninja import Form, Router, Schema

from datastore import multipart, services
from datastore.signing import signed_url
from platform_site.http.errors import ValidationFailed

router = Router(tags=["data store"])

PAGE_SIZE = 1000
BAD_CONTINUATION_TOKEN = "Invalid continuation_token: it was not issued by this server."


class PathIn(Schema):
    path_to_object: str


class ObjectOut(Schema):
    path: str
    last_modified: str
    size: int


class ListOut(Schema):
    items: list[ObjectOut]
    continuation_token: str | None


class SignedPostOut(Schema):
    signed_url: str
    fields: dict[str, str]


class SignedPutOut(Schema):
    signed_url: str
    headers: dict[str, str]


class SignedGetOut(Schema):
    signed_url: str


class DeletedOut(Schema):
    path: str


class MultipartPartIn(Schema):
    path_to_object: str
    multipart_upload_configuration: Any = None
    chunk_size: int
    part_number: int
    size: int | None = None


class MultipartEndIn(Schema):
    path_to_object: str
    multipart_upload_configuration: Any = None
    parts: list[dict[str, Any]]


def _encode_token(key: str) -> str:
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_token(token: str) -> str:
    try:
        key = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, ValueError):
        raise ValidationFailed(BAD_CONTINUATION_TOKEN) from None
    services.validate_key(key, field="continuation_token")
    return key


@router.post("/data-store/information", response=ObjectOut)
def information(request: HttpRequest, payload: PathIn):
    return services.datastore_info(payload.path_to_object).as_json()


@router.get("/data-store/list", response=ListOut)
def list_objects(
    request: HttpRequest,
    folder_path: str | None = None,
    continuation_token: str | None = None,
):
    after = _decode_token(continuation_token) if continuation_token else None
    page = services.datastore_list(folder_path, after=after, limit=PAGE_SIZE)
    return {
        "items": [item.as_json() for item in page.items],
        "continuation_token": _encode_token(page.next_after)
        if page.next_after
        else None,
    }


@router.get("/data-store/upload", response=SignedPostOut)
def upload_url(request: HttpRequest, path_to_object: str):
    key = services.validate_key(path_to_object)
    return {
        "signed_url": signed_url(action="upload", path=key),
        "fields": {},
    }


@router.post("/data-store/upload/multipart")
def multipart_start(request: HttpRequest, payload: PathIn):
    return multipart.datastore_multipart_start(path=payload.path_to_object)


@router.post("/data-store/upload/multipart/part", response=SignedPutOut)
def multipart_part(request: HttpRequest, payload: MultipartPartIn):
    upload_id = multipart.datastore_multipart_part(
        path=payload.path_to_object,
        configuration=payload.multipart_upload_configuration,
        part_number=payload.part_number,
        chunk_size=payload.chunk_size,
        size=payload.size,
    )
    url = signed_url(
        action="part",
        path=payload.path_to_object,
        u=upload_id,
        n=payload.part_number,
    )
    return {"signed_url": url, "headers": {}}


@router.post("/data-store/upload/multipart/end", response=ObjectOut)
def multipart_end(request: HttpRequest, payload: MultipartEndIn):
    info = multipart.datastore_multipart_end(
        path=payload.path_to_object,
        configuration=payload.multipart_upload_configuration,
        parts=payload.parts,
    )
    return info.as_json()


@router.post("/data-store/download", response=SignedGetOut)
def download_url(request: HttpRequest, path_to_object: Form[str]):
    info = services.datastore_info(path_to_object)  # 404 now rather than at the GET
    return {"signed_url": signed_url(action="download", path=info.path)}


@router.delete("/data-store/delete", response=DeletedOut)
def delete(request: HttpRequest):
    # Django parses form bodies of POST only; the client sends this one with DELETE.
    form = QueryDict(request.body)
    path = form.get("path_to_object")
    if path is None:
        raise ValidationFailed("path_to_object is required.")
    return {"path": services.datastore_delete(path)}
