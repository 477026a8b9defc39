"""The signed URLs' own views: no Bearer, no session, no CSRF; errors as S3-style XML (§7.6).

The client parses non-2xx bodies of these URLs as `<Error><Code/><Message/>...`;
JSON or HTML would lose the message.
"""

from __future__ import annotations

from django.conf import settings
from django.http import FileResponse, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from datastore import multipart, services
from datastore.signing import SignatureRefused, verify_token
from platform_site.http.bodies import body_error, content_length
from platform_site.http.errors import TooLarge, xml_error, xml_error_for


def _signed(method: str, action: str):
    """Check the method and signature, hand the claims to the view, map errors to XML."""

    def decorate(view):
        @csrf_exempt
        def wrapper(request: HttpRequest) -> HttpResponse:
            if request.method != method:
                return xml_error(
                    "MethodNotAllowed",
                    f"This URL only accepts {method}.",
                    status=405,
                )
            try:
                claims = verify_token(request.GET.get("token"), action=action)
            except SignatureRefused as exc:
                return xml_error("AccessDenied", exc.message, status=403)
            try:
                return view(request, claims)
            except Exception as exc:
                refusal = body_error(exc)  # ApiError, or a malformed body
                if refusal is None:
                    raise
                return xml_error_for(refusal, Key=str(claims.get("p", "")))

        wrapper.__name__ = view.__name__
        wrapper.__doc__ = view.__doc__
        return wrapper

    return decorate


@_signed("POST", "upload")
def upload(request: HttpRequest, claims: dict) -> HttpResponse:
    """S3 POST-policy style: form fields, then a `file` part."""
    limit = settings.MAX_UPLOAD_BYTES
    # Refuse an oversized body before Django spools it to disk (multipart
    # overhead is small; the exact check on the file follows).
    if content_length(request) > limit + 64 * 1024:
        raise TooLarge(f"Single uploads are limited to {limit} bytes.")
    upload = request.FILES.get("file")
    if upload is None:
        return xml_error(
            "InvalidArgument",
            "The form has no `file` part.",
            status=400,
            Key=claims["p"],
        )
    services.datastore_save(path=claims["p"], fileobj=upload, max_bytes=limit)
    return HttpResponse(status=204)


@_signed("PUT", "part")
def part(request: HttpRequest, claims: dict) -> HttpResponse:
    """One part of a multipart upload: the raw body, streamed to the staging folder."""
    limit = settings.MAX_UPLOAD_BYTES
    if content_length(request) > limit:
        raise TooLarge(f"Parts are limited to {limit} bytes.")
    stored = multipart.datastore_multipart_put(
        upload_id=claims["u"],
        part_number=claims["n"],
        stream=request,  # type: ignore[arg-type]  # read() streams, .body would buffer
        max_bytes=limit,
    )
    response = HttpResponse(status=200)
    response["ETag"] = stored.etag
    return response


@_signed("GET", "download")
def download(request: HttpRequest, claims: dict) -> HttpResponse:
    fileobj = services.datastore_open(claims["p"])
    return FileResponse(
        fileobj,
        content_type="application/octet-stream",
        as_attachment=True,
        filename=claims["p"].rsplit("/", 1)[-1],
    )
