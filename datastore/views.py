"""The data store pages: browse a folder, upload into it, download, delete (confirmed)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from datastore import services
from datastore.objects import FolderListing
from platform_site.http.errors import ApiError, NotFound, ValidationFailed
from platform_site.http.request import HtmxHttpRequest

UPLOAD_NO_FILE = "Choose a file to upload."


def browse_url(folder: str) -> str:
    url = reverse("datastore:browse")
    return f"{url}?{urlencode({'folder': folder})}" if folder else url


def breadcrumbs(folder: str) -> list[tuple[str, str]]:
    """(name, folder key) for each folder from the root down to `folder`."""
    crumbs = [("data store", "")]
    parts = folder.split("/") if folder else []
    for i, name in enumerate(parts):
        crumbs.append((name, "/".join(parts[: i + 1])))
    return crumbs


def _listing_or_404(folder: str) -> FolderListing:
    try:
        return services.datastore_browse(folder)
    except (NotFound, ValidationFailed):
        raise Http404("No such folder.") from None


def _render_browse(
    request: HtmxHttpRequest, folder: str, *, status: int = 200, **extra
) -> HttpResponse:
    listing = _listing_or_404(folder)
    context = {
        "listing": listing,
        "folders": [
            (name, f"{listing.folder}/{name}" if listing.folder else name)
            for name in listing.folders
        ],
        "crumbs": breadcrumbs(listing.folder),
        "max_upload_bytes": settings.MAX_UPLOAD_BYTES,
        **extra,
    }
    template = (
        "datastore/browse.html#listing" if request.htmx else "datastore/browse.html"
    )
    return render(request, template, context, status=status)


@login_required
@require_GET
def browse(request: HtmxHttpRequest) -> HttpResponse:
    return _render_browse(request, request.GET.get("folder", ""))


@login_required
@require_POST
def upload(request: HtmxHttpRequest) -> HttpResponse:
    folder = request.POST.get("folder", "")
    _listing_or_404(folder)
    fileobj = request.FILES.get("file")
    name = request.POST.get("name", "").strip() or (fileobj.name if fileobj else "")
    if fileobj is None:
        error = UPLOAD_NO_FILE
    else:
        path = f"{folder}/{name}" if folder else name
        try:
            saved = services.datastore_save(
                path=path, fileobj=fileobj, max_bytes=settings.MAX_UPLOAD_BYTES
            )
        except ApiError as exc:
            error = exc.message
        else:
            if not request.htmx:
                messages.success(request, f"Uploaded {saved.path}.")
                return redirect(browse_url(folder))
            return _render_browse(request, folder, uploaded=saved.path)
    # htmx only swaps 2xx answers: the error travels in a 200 fragment there.
    return _render_browse(
        request, folder, status=200 if request.htmx else 400, upload_error=error
    )


@login_required
@require_GET
def download(request: HtmxHttpRequest) -> HttpResponse:
    path = request.GET.get("path", "")
    try:
        fileobj = services.datastore_open(path)
    except (NotFound, ValidationFailed):
        raise Http404("No such file.") from None
    return FileResponse(
        fileobj,
        content_type="application/octet-stream",
        as_attachment=True,
        filename=path.rsplit("/", 1)[-1],
    )


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HtmxHttpRequest) -> HttpResponse:
    """GET asks for confirmation; POST deletes, then goes back to the folder."""
    path = (
        request.POST.get("path", "")
        if request.method == "POST"
        else request.GET.get("path", "")
    )
    try:
        info = services.datastore_info(path)
    except (NotFound, ValidationFailed):
        raise Http404("No such file.") from None
    folder = info.path.rpartition("/")[0]
    if request.method == "GET":
        return render(
            request,
            "datastore/delete.html",
            {"info": info, "folder": folder, "back": browse_url(folder)},
        )
    services.datastore_delete(info.path)
    messages.success(request, f"Deleted {info.path}.")
    # Deleting a folder's last file removes the folder: go to the nearest one left.
    while folder and not services.datastore_folder_exists(folder):
        folder = folder.rpartition("/")[0]
    return redirect(browse_url(folder))
