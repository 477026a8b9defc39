from __future__ import annotations

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
