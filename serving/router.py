"""Each serving process keeps its routing table in memory and notices changes within
a second without a restart: every routing change (deployment, weight, promotion,
rollback) appends a journal event, so the newest event id is a generation number.
The table checks it at most every REFRESH_SECONDS and rebuilds when it moved."""

import threading
import time
from dataclasses import dataclass

from django.db.models import Max

from control_plane.models import Event
from registry import stages
from registry.models import ModelVersion

from .models import Deployment

REFRESH_SECONDS = 0.25


@dataclass(frozen=True)
class Route:
    model_name: str
    strategy: str
    champion: ModelVersion
    challenger: ModelVersion | None = None
    challenger_weight: int = 0  # percent of traffic the challenger answers
    deployment_id: int | None = None

    @property
    def shadow(self) -> bool:
        return self.strategy == Deployment.Strategy.SHADOW and self.challenger is not None


def _route_from_db(model_name: str) -> Route | None:
    deployment = (
        Deployment.objects.filter(model__name=model_name, state__in=Deployment.LIVE_STATES)
        .select_related("model", "champion__model", "challenger__model")
        .first()
    )
    production = (
        ModelVersion.objects.filter(model__name=model_name, stage=stages.PRODUCTION).select_related("model").first()
    )
    if deployment is None:
        return Route(model_name, Deployment.Strategy.SINGLE, production) if production else None
    champion = deployment.champion or production
    if champion is None:
        return None
    return Route(
        model_name=model_name,
        strategy=deployment.strategy,
        champion=champion,
        challenger=deployment.challenger,
        challenger_weight=deployment.challenger_weight if deployment.strategy != Deployment.Strategy.SHADOW else 0,
        deployment_id=deployment.pk,
    )


class RoutingTable:
    def __init__(self):
        self._routes: dict[str, Route | None] = {}
        self._generation: int | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def _refresh_if_due(self) -> None:
        now = time.monotonic()
        if now - self._checked_at < REFRESH_SECONDS:
            return
        with self._lock:
            if now - self._checked_at < REFRESH_SECONDS:
                return
            generation = Event.objects.aggregate(g=Max("id"))["g"] or 0
            if generation != self._generation:
                self._routes = {}
                self._generation = generation
            self._checked_at = now

    def generation(self) -> int | None:
        """The journal position the table is current with (checked at most every
        REFRESH_SECONDS); other per-process caches follow it too."""
        self._refresh_if_due()
        return self._generation

    def route(self, model_name: str) -> Route | None:
        self._refresh_if_due()
        try:
            return self._routes[model_name]
        except KeyError:
            route = _route_from_db(model_name)
            self._routes[model_name] = route
            return route

    def invalidate(self) -> None:
        with self._lock:
            self._routes = {}
            self._checked_at = 0.0


routing_table = RoutingTable()
