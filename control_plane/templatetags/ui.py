"""Template filters that put things the way people read them: times with their zone,
machine words as words, gate checks by their labels. Built in to every template (settings)."""

from datetime import UTC, datetime

from django import template
from django.utils import timezone

from control_plane.event_display import WORDS, number_text

register = template.Library()

FORMATS = {"": "%Y-%m-%d %H:%M UTC", "s": "%Y-%m-%d %H:%M:%S UTC", "time": "%H:%M:%S UTC"}


@register.filter
def utc(value, precision: str = ""):
    """A datetime in UTC, saying so; '' for no value (so `|default:"never"` still works)."""
    if not isinstance(value, datetime):
        return ""
    if timezone.is_aware(value):
        value = value.astimezone(UTC)
    return value.strftime(FORMATS.get(precision, FORMATS[""]))


@register.filter
def words(value):
    """'rolled_back' -> 'rolled back', 'blue_green' -> 'blue-green': states as the UI names them."""
    text = str(value or "")
    return WORDS.get(text, text.replace("_", " "))


@register.filter
def failing_labels(gate) -> str:
    """The labels of a stored or fresh gate's failing checks, joined for a sentence."""
    if not isinstance(gate, dict):
        return ""
    labels = {c.get("name"): c.get("label") or c.get("name") for c in gate.get("checks") or [] if isinstance(c, dict)}
    return ", ".join(labels.get(name, name) for name in gate.get("failing") or [])


@register.filter
def num(value):
    """A number to 4 significant digits (0.86, 0.3123, 12,500), '—' for none."""
    if value is None or value == "":
        return "—"
    return number_text(value) if isinstance(value, (int, float)) else str(value)
