"""A client with Feast's shape for online features:

    from features.client import FeatureStore
    store = FeatureStore()                                   # in process: Redis directly
    store = FeatureStore(url="https://cp.example", token=t)  # over HTTP
    store.get_online_features(features=["user_stats:age"], entity_rows=[{"user_id": 1}]).to_dict()
    # {"user_id": [1], "age": [42]}

In process it needs Django set up (DJANGO_SETTINGS_MODULE, django.setup()): definitions
are read once and cached until they change; each call is one Redis round trip. Over HTTP
it needs only `requests`. Values older than their view's TTL are None in both (statuses()
says outside_ttl), unlike Feast's Python path, which serves them.
"""

from dataclasses import dataclass


@dataclass
class OnlineResponse:
    entity_rows: list[dict]
    feature_names: list[str]
    values: list[dict]
    statuses_: list[dict]
    event_timestamps: list[dict]

    def to_dict(self) -> dict[str, list]:
        """Feast's columns: every join key sent, then each feature, one value per entity row."""
        out: dict[str, list] = {}
        for row in self.entity_rows:
            for key in row:
                out.setdefault(key, [])
        for key in out:
            out[key] = [row.get(key) for row in self.entity_rows]
        for name in self.feature_names:
            out[name] = [values[name] for values in self.values]
        return out

    def statuses(self) -> dict[str, list]:
        return {name: [s[name] for s in self.statuses_] for name in self.feature_names}


class FeatureStore:
    def __init__(self, url: str | None = None, token: str | None = None, timeout: float = 10.0):
        self.url = url.rstrip("/") if url else None
        self.timeout = timeout
        self._session = None
        if self.url:
            import requests

            self._session = requests.Session()
            if token:
                self._session.headers["Authorization"] = f"Bearer {token}"

    def get_online_features(self, features: list[str] | None = None, entity_rows: list[dict] | None = None, *,
                            feature_service: str | None = None) -> OnlineResponse:
        entity_rows = list(entity_rows or [])
        if self._session is not None:
            return self._http(features, entity_rows, feature_service)
        from .online_reads import online_read
        from .resolve import resolve

        resolved = resolve(features=features, feature_service=feature_service)
        rows = online_read(resolved, entity_rows)
        return OnlineResponse(entity_rows, list(resolved.feature_names), [r.values for r in rows],
                              [r.statuses for r in rows], [r.event_timestamps for r in rows])

    def _http(self, features, entity_rows, feature_service) -> OnlineResponse:
        body = {"entities": entity_rows}
        if features:
            body["features"] = features
        if feature_service:
            body["feature_service"] = feature_service
        answer = self._session.post(f"{self.url}/api/v1/features/online/", json=body, timeout=self.timeout)
        if answer.status_code != 200:
            try:
                error = answer.json()["error"]
            except (ValueError, KeyError):
                error = {"code": "http_error", "message": answer.text[:500]}
            raise FeatureStoreError(answer.status_code, error.get("code", ""), error.get("message", ""))
        data = answer.json()
        results = data["results"]
        return OnlineResponse(entity_rows, data["features"], [r["values"] for r in results],
                              [r["statuses"] for r in results], [r["event_timestamps"] for r in results])


class FeatureStoreError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
