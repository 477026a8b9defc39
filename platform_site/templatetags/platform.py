from __future__ import annotations

import json
from datetime import datetime

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def utc(value: datetime | None) -> str:
    """A UTC timestamp; static/js/platform.js adds the viewer's local time on hover."""
    if value is None:
        return "—"
    return format_html(
        '<time datetime="{}" class="utc">{} UTC</time>',
        value.isoformat(),
        value.strftime("%Y-%m-%d %H:%M:%S"),
    )


@register.filter
def seconds(value) -> str:
    """A timedelta or number of seconds as a short duration (12 ms, 3.4 s, 2 min 5 s)."""
    if value is None:
        return "—"
    total = value.total_seconds() if hasattr(value, "total_seconds") else float(value)
    if total < 1:
        return f"{total * 1000:.0f} ms"
    if total < 60:
        return f"{total:.1f} s"
    minutes, secs = divmod(int(total), 60)
    return f"{minutes} min {secs} s"


# Status values as people read them; the raw value stays in the CSS class and the API.
STATUS_LABELS = {
    "creation_pending": "Being created",
    "creation_failed": "Creation failed",
    "ready": "Ready",
    "up": "Up",
    "down_retrying": "Down, retrying",
    "standby": "Standing by",
    "disabled": "Disabled",
}


@register.filter
def status_label(value: object) -> str:
    """'creation_failed' -> 'Creation failed'; execution statuses (Succeeded) stay as they are."""
    text = str(value or "")
    return STATUS_LABELS.get(text, text.replace("_", " ").capitalize() if text else "—")


@register.simple_tag
def status_badge(value: object, element_id: str = "") -> str:
    """The coloured badge of a status, its label human and its class the raw value."""
    raw = str(value or "")
    if element_id:
        return format_html(
            '<span class="status status-{}" id="{}" data-status="{}">{}</span>',
            raw,
            element_id,
            raw,
            status_label(raw),
        )
    return format_html(
        '<span class="status status-{}" data-status="{}">{}</span>',
        raw,
        raw,
        status_label(raw),
    )


# Longer values are cut on the page; the API and the SDK still return them whole.
JSON_SHOWN_CHARS = 20_000


@register.filter
def json_pretty(value: object) -> str:
    """A decoded JSON value as JSON (never a Python repr), indented; cut past JSON_SHOWN_CHARS."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > JSON_SHOWN_CHARS:
        return text[:JSON_SHOWN_CHARS] + "\n… (cut: the API returns the whole value)"
    return text


@register.filter
def is_container(value: object) -> bool:
    return isinstance(value, dict | list)
