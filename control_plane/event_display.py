"""A journal event's payload in words for people: readable fields instead of raw JSON, and
links to the pages an event is about (its promotion request, drift report, deployment).

Pure formatting plus URL reversing; no query.
"""

from django.urls import NoReverseMatch, reverse

LABELS = {
    "promotion_request": "request",
    "drift_report": "drift report",
    "challenger_weight": "challenger traffic",
    "champion_version": "champion",
    "override_reason": "override reason",
    "key_features_drifted": "key features drifted",
    "below_floor": "below floor",
    "judged_on": "judged on",
    "labelled_rows": "labelled rows",
    "sample_size": "sample size",
    "current_step": "step",
}
# Machine words that appear as values, as the pages say them.
WORDS = {
    "rolled_back": "rolled back",
    "not_available": "not available",
    "blue_green": "blue-green",
    "judged_on": "judged on",
}
# Ids shown as links rather than as fields.
LINKED_KEYS = {"promotion_request", "drift_report", "deployment"}


def number_text(value: float | int) -> str:
    """Floats to 4 significant digits (no 16-digit tails); whole numbers with separators."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if value != value:  # NaN
        return "n/a"
    return f"{value:.4g}"


def value_text(value, depth: int = 0) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "–"
    if isinstance(value, (bool, int, float)):
        return number_text(value)
    if isinstance(value, str):
        return WORDS.get(value, value)
    if isinstance(value, dict):
        if set(value) == {"start", "end"}:
            return f"{_time_text(value['start'])} → {_time_text(value['end'])}"
        inner = ", ".join(f"{label_text(k)} {value_text(v, depth + 1)}" for k, v in value.items())
        return f"({inner})" if depth else inner
    if isinstance(value, (list, tuple)):
        return "; ".join(_item_text(item, depth + 1) for item in value)
    return str(value)


def _item_text(item, depth: int) -> str:
    """A list element; a dict naming a feature or metric reads 'name (k v, k v)'."""
    if isinstance(item, dict):
        name_key = next((k for k in ("feature", "name", "metric", "check") if k in item), None)
        if name_key:
            rest = {k: v for k, v in item.items() if k != name_key}
            return f"{item[name_key]} {value_text(rest, depth)}" if rest else str(item[name_key])
    return value_text(item, depth)


def _time_text(raw) -> str:
    text = str(raw)
    return text[:16].replace("T", " ") + " UTC" if len(text) >= 16 and text[10:11] == "T" else text


def label_text(key: str) -> str:
    return LABELS.get(key, key.replace("_", " "))


def payload_fields(payload) -> list[tuple[str, str]]:
    """(label, text) pairs for every payload entry that is not shown as a link."""
    if not payload:
        return []
    if not isinstance(payload, dict):
        return [("details", value_text(payload))]
    return [(label_text(k), value_text(v)) for k, v in payload.items() if k not in LINKED_KEYS]


def _reverse(name: str, *args) -> str | None:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def event_links(*, event_type: str, model_name: str, payload) -> list[tuple[str, str]]:
    """(text, url) pairs to the pages this event is about."""
    if not isinstance(payload, dict):
        return []
    links = []
    request_id = payload.get("promotion_request")
    if isinstance(request_id, int):
        links.append((f"request #{request_id}", _reverse("promotion-detail", request_id)))
    report_id = payload.get("drift_report")
    if isinstance(report_id, int) and model_name:
        links.append((f"drift report #{report_id}", _reverse("drift-report", model_name, report_id)))
    if (event_type.startswith("deployment.") or isinstance(payload.get("deployment"), int)) and model_name:
        links.append(("deployment", _reverse("deployment-comparison", model_name)))
    return [(text, url) for text, url in links if url]
