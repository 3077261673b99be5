"""Feature references -> the views to read and the features wanted from each, cached per
process until the journal moves (every definition change appends an event), so the
online path reads no definition from the database per request."""

import threading
from dataclasses import dataclass

from control_plane.errors import Invalid, NotFound

from .definitions import parse_ref
from .models import FeatureService, FeatureView
from .sources import ViewSource, view_source

MAX_FEATURES = 1000
MAX_CACHED = 1000


@dataclass(frozen=True)
class ViewRead:
    name: str
    keys: tuple[tuple[str, str], ...]
    features: tuple[tuple[str, str], ...]  # the ones asked for
    ttl_seconds: int
    source: ViewSource


@dataclass(frozen=True)
class Resolved:
    views: tuple[ViewRead, ...]
    feature_names: tuple[str, ...]  # in the order asked
    keys: tuple[tuple[str, str], ...]  # every join key the views need, in first-seen order
    service: str = ""  # "name:version" when resolved from a service
    on_missing: str = "refuse"


def _service(text: str) -> FeatureService:
    name, _, version = str(text).partition(":")
    services = FeatureService.objects.filter(name=name)
    if version:
        if not version.isdigit():
            raise Invalid(f"'{text}' is not 'name' or 'name:version'.", details={"feature_service": ["Bad version."]})
        services = services.filter(version=int(version))
    found = services.order_by("-version").first()
    if found is None:
        raise NotFound(f"No feature service '{text}'.", code="feature_service_not_found")
    return found


def _resolve(features: tuple[str, ...] | None, service_text: str | None) -> Resolved:
    if bool(features) == bool(service_text):
        raise Invalid("Give either 'features' or 'feature_service'.", details={"features": ["Exactly one of the two."]})
    service = _service(service_text) if service_text else None
    refs = tuple(service.features) if service else features
    if len(refs) > MAX_FEATURES:
        raise Invalid(f"At most {MAX_FEATURES} features.", details={"features": ["Too many."]})
    wanted: dict[str, list[str]] = {}
    names: list[str] = []
    problems = {}
    for i, ref in enumerate(refs):
        parsed = parse_ref(ref) if isinstance(ref, str) else None
        if parsed is None:
            problems[f"features[{i}]"] = [f'{ref!r} is not "view:feature".']
            continue
        if parsed[1] in names:
            problems[f"features[{i}]"] = [f"'{parsed[1]}' is asked for twice."]
            continue
        wanted.setdefault(parsed[0], []).append(parsed[1])
        names.append(parsed[1])
    views = {v.name: v for v in FeatureView.objects.select_related("entity").filter(name__in=list(wanted))}
    reads = []
    for view_name, feature_names in wanted.items():
        view = views.get(view_name)
        if view is None:
            problems[view_name] = [f"No feature view '{view_name}'."]
            continue
        types = {f["name"]: f["type"] for f in view.features}
        missing = [f for f in feature_names if f not in types]
        if missing:
            problems[view_name] = [f"No feature {', '.join(missing)} in view '{view_name}'."]
            continue
        source = view_source(view)
        reads.append(ViewRead(view.name, source.keys, tuple((f, types[f]) for f in feature_names), view.ttl_seconds,
                              source))
    if problems:
        raise Invalid(f"Unknown features: {next(iter(problems.values()))[0]}", code="unknown_features", details=problems)
    keys: dict[str, str] = {}
    for read in reads:
        for name, kind in read.keys:
            if keys.setdefault(name, kind) != kind:
                raise Invalid(f"Join key '{name}' has two types across the views asked for.", details={"features": [name]})
    return Resolved(
        views=tuple(reads), feature_names=tuple(names), keys=tuple(keys.items()),
        service=f"{service.name}:{service.version}" if service else "", on_missing=service.on_missing if service else "refuse",
    )


class _Cache:
    def __init__(self):
        self.generation = None
        self.entries: dict = {}
        self.lock = threading.Lock()

    def get(self, features, service_text) -> Resolved:
        from serving.router import routing_table  # the journal position, checked at most every 0.25 s

        generation = routing_table.generation()
        key = (tuple(features) if features else None, service_text or None)
        with self.lock:
            if generation != self.generation:
                self.entries, self.generation = {}, generation
            found = self.entries.get(key)
        if found is None:
            found = _resolve(key[0], key[1])
            with self.lock:
                if len(self.entries) >= MAX_CACHED:
                    self.entries = {}
                self.entries[key] = found
        return found


_cache = _Cache()


def resolve(*, features: list[str] | None = None, feature_service: str | None = None) -> Resolved:
    return _cache.get(features, feature_service)
