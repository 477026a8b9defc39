"""Environment variables page: list (masked), create or update, delete."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from executions import selectors, services
from executions.views.forms import VariableForm
from platform_site.http.errors import NotFound, ValidationFailed
from platform_site.http.request import HtmxHttpRequest


@login_required
@require_http_methods(["GET", "POST"])
@never_cache  # the page holds the values (masked only in the browser)
def variable_list(request: HtmxHttpRequest) -> HttpResponse:
    form = VariableForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            name, value = form.cleaned_data["name"].strip(), form.cleaned_data["value"]
            try:
                services.environment_variables_set(values={name: value})
            except ValidationFailed as exc:
                form.add_error("name", exc.message)
            else:
                messages.info(request, f"Environment variable {name} saved.")
                return redirect("executions:variable_list")
        status = 400
    context = {"form": form, "variables": selectors.environment_variable_list()}
    return render(request, "executions/variable_list.html", context, status=status)


@login_required
@require_POST
def variable_delete(request: HtmxHttpRequest, name: str) -> HttpResponse:
    try:
        services.environment_variable_delete(name=name)
    except NotFound as exc:
        raise Http404(exc.message) from None
    messages.info(request, f"Environment variable {name} deleted.")
    return redirect("executions:variable_list")
