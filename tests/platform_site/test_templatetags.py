"""Template tags of every page: status badges, JSON values."""

from __future__ import annotations

from django.template import Context, Template

from platform_site.templatetags.platform import json_pretty, status_label


def test_it_names_deployment_statuses_for_people():
    assert status_label("creation_failed") == "Creation failed"
    assert status_label("down_retrying") == "Down, retrying"


def test_it_keeps_execution_statuses():
    assert status_label("Succeeded") == "Succeeded"


def test_it_shows_a_dash_for_no_status():
    assert status_label(None) == "—"


def test_it_renders_a_badge_with_the_raw_value_as_class():
    html = Template("{% load platform %}{% status_badge s %}").render(
        Context({"s": "creation_pending"})
    )
    assert html == (
        '<span class="status status-creation_pending" '
        'data-status="creation_pending">Being created</span>'
    )


def test_it_shows_json_values_as_json_not_python():
    assert json_pretty({"epochs": 6, "ok": True, "x": None}) == (
        '{\n  "epochs": 6,\n  "ok": true,\n  "x": null\n}'
    )
