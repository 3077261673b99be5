"""Feature definitions as plain data: parse and check a definitions document (the YAML of
`manage.py features apply`, or the JSON of the API) without Django. Every problem is
collected under a path naming the field (`feature_views[0].features[2].type`), so a
refusal names everything that is wrong at once."""

import re
from dataclasses import dataclass, field

IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Source columns and tables may use upper case (they already exist); still plain identifiers.
COLUMN = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
FEATURE_TYPES = ("int", "float", "string", "bool", "timestamp")
KEY_TYPES = ("int", "string")
SOURCE_KINDS = ("table", "query", "push", "file")
ON_MISSING = ("refuse", "null")
# Push tables and push rows use these names for the two timestamps.
PUSH_EVENT_COLUMN, PUSH_CREATED_COLUMN = "event_timestamp", "created_timestamp"
RESERVED = {PUSH_EVENT_COLUMN, PUSH_CREATED_COLUMN, "row_no", "id"}
TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_TTL_SECONDS = 10 * 365 * 86400
MAX_QUERY_CHARS = 20_000


class DefinitionError(Exception):
    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {v[0]}" for k, v in problems.items()))
        self.problems = problems


@dataclass(frozen=True)
class EntitySpec:
    name: str
    join_keys: tuple[tuple[str, str], ...]  # (name, type)
    description: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "join_keys": [{"name": n, "type": t} for n, t in self.join_keys],
            "description": self.description,
        }


@dataclass(frozen=True)
class ViewSpec:
    name: str
    entity: str
    features: tuple[tuple[str, str], ...]
    source_kind: str
    ttl_seconds: int
    source_table: str = ""
    source_query: str = ""
    source_connection: str = ""
    source_path: str = ""
    event_timestamp_column: str = PUSH_EVENT_COLUMN
    created_timestamp_column: str = ""
    tags: dict = field(default_factory=dict)
    description: str = ""
    schedule: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "entity": self.entity,
            "features": [{"name": n, "type": t} for n, t in self.features],
            "source": {
                "kind": self.source_kind,
                "table": self.source_table,
                "query": self.source_query,
                "connection": self.source_connection,
                "path": self.source_path,
            },
            "event_timestamp_column": self.event_timestamp_column,
            "created_timestamp_column": self.created_timestamp_column,
            "ttl_seconds": self.ttl_seconds,
            "tags": dict(self.tags),
            "description": self.description,
            "schedule": self.schedule,
        }


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    features: tuple[str, ...]  # "view:feature"
    on_missing: str = "refuse"
    description: str = ""

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "features": list(self.features),
            "on_missing": self.on_missing,
            "description": self.description,
        }


@dataclass
class Document:
    entities: list[EntitySpec] = field(default_factory=list)
    views: list[ViewSpec] = field(default_factory=list)
    services: list[ServiceSpec] = field(default_factory=list)


class _Problems:
    def __init__(self):
        self.found: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        self.found.setdefault(path, []).append(message)


def ttl_seconds(value) -> int:
    """86400, "86400", "1d", "12h", "30m", "45s", "2w" -> seconds; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("must be seconds or a duration like '1d'")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and re.fullmatch(r"\d{1,10}", value.strip()):
        seconds = int(value.strip())
    elif isinstance(value, str) and (m := re.fullmatch(r"(\d{1,9})\s*([smhdw])", value.strip())):
        seconds = int(m.group(1)) * TTL_UNITS[m.group(2)]
    else:
        raise ValueError("must be seconds or a duration like '1d', '12h', '30m'")
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"must be between 1 second and {MAX_TTL_SECONDS // 86400} days")
    return seconds


def _text(raw: dict, key: str, path: str, problems: _Problems, *, pattern=None, required=True, limit=1000) -> str:
    value = raw.get(key, None)
    if value is None or value == "":
        if required:
            problems.add(f"{path}.{key}", "This field is required.")
        return ""
    if not isinstance(value, str):
        problems.add(f"{path}.{key}", "Must be a string.")
        return ""
    if len(value) > limit:
        problems.add(f"{path}.{key}", f"At most {limit} characters.")
        return ""
    if pattern is not None and not pattern.fullmatch(value):
        problems.add(f"{path}.{key}", f"'{value}' is not an identifier ({pattern.pattern}).")
        return ""
    return value


def _unknown(raw: dict, allowed: set[str], path: str, problems: _Problems) -> None:
    for key in sorted(set(raw) - allowed):
        problems.add(f"{path}.{key}", "Unknown field.")


def _typed_list(raw, path: str, problems: _Problems, types: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(path, "Must be a non-empty list of {name, type}.")
        return ()
    out, seen = [], set()
    for i, item in enumerate(raw):
        where = f"{path}[{i}]"
        if not isinstance(item, dict):
            problems.add(where, "Must be an object {name, type}.")
            continue
        _unknown(item, {"name", "type", "description"}, where, problems)
        name = _text(item, "name", where, problems, pattern=IDENTIFIER)
        kind = item.get("type")
        if kind not in types:
            problems.add(f"{where}.type", f"One of {', '.join(types)}.")
            continue
        if name in RESERVED:
            problems.add(f"{where}.name", f"'{name}' is reserved.")
        elif name in seen:
            problems.add(f"{where}.name", f"'{name}' appears twice.")
        elif name:
            seen.add(name)
            out.append((name, kind))
    return tuple(out)


def parse_entity(raw, path: str, problems: _Problems) -> EntitySpec | None:
    if not isinstance(raw, dict):
        problems.add(path, "Must be an object.")
        return None
    _unknown(raw, {"name", "join_keys", "description"}, path, problems)
    name = _text(raw, "name", path, problems, pattern=IDENTIFIER)
    keys = _typed_list(raw.get("join_keys"), f"{path}.join_keys", problems, KEY_TYPES)
    description = _text(raw, "description", path, problems, required=False, limit=5000)
    return EntitySpec(name, keys, description) if name and keys else None


def _source(raw, path: str, problems: _Problems) -> dict:
    if not isinstance(raw, dict):
        problems.add(path, 'Must be an object {"kind": "table" | "query" | "push" | "file", ...}.')
        return {}
    _unknown(raw, {"kind", "table", "query", "connection", "path"}, path, problems)
    kind = raw.get("kind")
    if kind not in SOURCE_KINDS:
        problems.add(f"{path}.kind", f"One of {', '.join(SOURCE_KINDS)}.")
        return {}
    out = {"source_kind": kind, "source_table": "", "source_query": "", "source_connection": "", "source_path": ""}
    if kind == "push":
        for key in ("table", "query", "connection", "path"):
            if raw.get(key):
                problems.add(f"{path}.{key}", "A push source is stored by the control plane; leave it out.")
        return out
    if kind == "file":
        for key in ("table", "query", "connection"):
            if raw.get(key):
                problems.add(f"{path}.{key}", "A file source is a path only; leave it out.")
        file_path = _text(raw, "path", path, problems, limit=500)
        if file_path and not file_path.startswith("/"):
            problems.add(f"{path}.path", "Must be an absolute path (under FEATURE_DATA_ROOTS).")
        out["source_path"] = file_path
        return out
    if raw.get("path"):
        problems.add(f"{path}.path", f"A {kind} source has no path.")
    out["source_connection"] = _text(raw, "connection", path, problems, pattern=IDENTIFIER, required=False)
    if kind == "table":
        table = _text(raw, "table", path, problems, limit=127)
        if raw.get("query"):
            problems.add(f"{path}.query", "A table source has no query.")
        if table and not all(COLUMN.fullmatch(part) for part in table.split(".")) or table.count(".") != 1:
            problems.add(f"{path}.table", 'Must be "schema.table", each part an identifier.')
        out["source_table"] = table
    else:
        query = _text(raw, "query", path, problems, limit=MAX_QUERY_CHARS)
        if raw.get("table"):
            problems.add(f"{path}.table", "A query source has no table.")
        if ";" in query.rstrip().rstrip(";"):
            problems.add(f"{path}.query", "One SELECT statement only.")
        out["source_query"] = query.rstrip().rstrip(";")
    return out


VIEW_FIELDS = {
    "name", "entity", "features", "source", "event_timestamp_column", "created_timestamp_column", "ttl",
    "ttl_seconds", "tags", "description", "schedule", "owner",
}


def parse_view(raw, path: str, problems: _Problems) -> ViewSpec | None:
    if not isinstance(raw, dict):
        problems.add(path, "Must be an object.")
        return None
    _unknown(raw, VIEW_FIELDS - {"owner"}, path, problems)
    before = len(problems.found)
    name = _text(raw, "name", path, problems, pattern=IDENTIFIER)
    entity = _text(raw, "entity", path, problems, pattern=IDENTIFIER)
    features = _typed_list(raw.get("features"), f"{path}.features", problems, FEATURE_TYPES)
    source = _source(raw.get("source"), f"{path}.source", problems)
    ttl_raw = raw.get("ttl", raw.get("ttl_seconds"))
    ttl = 0
    if ttl_raw is None:
        problems.add(f"{path}.ttl", "This field is required (seconds, or a duration like '1d').")
    else:
        try:
            ttl = ttl_seconds(ttl_raw)
        except ValueError as exc:
            problems.add(f"{path}.ttl", f"{ttl_raw!r} {exc}.")
    if source.get("source_kind") == "push":
        for key, fixed in (("event_timestamp_column", PUSH_EVENT_COLUMN), ("created_timestamp_column", PUSH_CREATED_COLUMN)):
            if raw.get(key) not in (None, "", fixed):
                problems.add(f"{path}.{key}", f"A push view's column is always '{fixed}'.")
        event_col, created_col = PUSH_EVENT_COLUMN, PUSH_CREATED_COLUMN
    else:
        event_col = _text(raw, "event_timestamp_column", path, problems, pattern=COLUMN)
        created_col = _text(raw, "created_timestamp_column", path, problems, pattern=COLUMN, required=False)
    tags = raw.get("tags") or {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        problems.add(f"{path}.tags", "Must be an object of string: string.")
        tags = {}
    description = _text(raw, "description", path, problems, required=False, limit=5000)
    schedule = _text(raw, "schedule", path, problems, required=False, limit=64)
    if len(problems.found) > before:
        return None
    return ViewSpec(
        name=name, entity=entity, features=features, ttl_seconds=ttl, event_timestamp_column=event_col,
        created_timestamp_column=created_col, tags=tags, description=description, schedule=schedule, **source,
    )


def parse_service(raw, path: str, problems: _Problems) -> ServiceSpec | None:
    if not isinstance(raw, dict):
        problems.add(path, "Must be an object.")
        return None
    _unknown(raw, {"name", "features", "on_missing", "description"}, path, problems)
    before = len(problems.found)
    name = _text(raw, "name", path, problems, pattern=IDENTIFIER)
    refs = raw.get("features")
    if not isinstance(refs, list) or not refs:
        problems.add(f"{path}.features", 'Must be a non-empty list of "view:feature".')
        refs = []
    for i, ref in enumerate(refs):
        if not isinstance(ref, str) or not parse_ref(ref):
            problems.add(f"{path}.features[{i}]", f'{ref!r} is not "view:feature".')
    if len(set(refs)) != len(refs):
        problems.add(f"{path}.features", "A reference appears twice.")
    on_missing = raw.get("on_missing", "refuse")
    if on_missing not in ON_MISSING:
        problems.add(f"{path}.on_missing", f"One of {', '.join(ON_MISSING)}.")
    description = _text(raw, "description", path, problems, required=False, limit=5000)
    if len(problems.found) > before:
        return None
    return ServiceSpec(name, tuple(refs), on_missing, description)


def parse_ref(ref: str) -> tuple[str, str] | None:
    view, sep, feature = ref.partition(":")
    if not sep or not IDENTIFIER.fullmatch(view) or not IDENTIFIER.fullmatch(feature):
        return None
    return view, feature


def parse_document(raw) -> Document:
    """A whole definitions document -> Document; DefinitionError naming every problem."""
    problems = _Problems()
    doc = Document()
    if not isinstance(raw, dict):
        raise DefinitionError({"document": ["Must be a mapping with entities, feature_views, feature_services."]})
    _unknown(raw, {"entities", "feature_views", "feature_services"}, "document", problems)
    for key, parse, target in (
        ("entities", parse_entity, doc.entities),
        ("feature_views", parse_view, doc.views),
        ("feature_services", parse_service, doc.services),
    ):
        items = raw.get(key) or []
        if not isinstance(items, list):
            problems.add(key, "Must be a list.")
            continue
        seen = set()
        for i, item in enumerate(items):
            spec = parse(item, f"{key}[{i}]", problems)
            if spec is None:
                continue
            if spec.name in seen:
                problems.add(f"{key}[{i}].name", f"'{spec.name}' is defined twice.")
            seen.add(spec.name)
            target.append(spec)
    _check_references(doc, problems)
    if problems.found:
        raise DefinitionError(problems.found)
    return doc


def _check_references(doc: Document, problems: _Problems) -> None:
    """Within the document only: a view's columns do not collide with its entity's keys
    (when the entity is in the document too)."""
    entities = {e.name: e for e in doc.entities}
    for i, view in enumerate(doc.views):
        entity = entities.get(view.entity)
        if entity is None:
            continue
        keys = {name for name, _ in entity.join_keys}
        for j, (name, _) in enumerate(view.features):
            if name in keys:
                problems.add(f"feature_views[{i}].features[{j}].name", f"'{name}' is a join key of {entity.name}.")
