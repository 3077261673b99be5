"""Serving with a feature service: a request for a version tagged features.service may
send entity keys only (or keys plus request-time features). The online features are
read in the same request (one Redis round trip) and merged under the request's values
(request values win). Missing or stale features follow the service's policy: refuse
(422 naming each) or null (then the schema decides, as for any null). Join keys that
are not model inputs are left out of the model's rows but kept in the logged snapshot."""

from dataclasses import dataclass

from .binding import TAG
from .online_reads import online_read
from .resolve import resolve


@dataclass
class Merged:
    model_rows: list[dict]
    logged_rows: list[dict]  # the full snapshot: keys, request values, online values


class MissingFeatures(Exception):
    def __init__(self, problems: list[dict]):
        super().__init__(f"{len(problems)} feature value(s) missing or stale")
        self.problems = problems


def merge_online(version, rows: list) -> Merged:
    resolved = resolve(feature_service=version.tags[TAG])
    answers = online_read(resolved, rows)
    schema = {c["name"] for c in version.input_schema}
    keys_out = [k for k, _ in resolved.keys if k not in schema]
    model_rows, logged, problems = [], [], []
    for i, (row, answer) in enumerate(zip(rows, answers)):
        merged = dict(row)
        for name in resolved.feature_names:
            if name in row:
                continue  # request-time value wins
            status = answer.statuses[name]
            if status != "present" and resolved.on_missing == "refuse":
                problems.append({"row": i, "field": name, "problem": status})
            merged[name] = answer.values[name]
        logged.append(merged)
        model_rows.append({k: v for k, v in merged.items() if k not in keys_out})
    if problems:
        raise MissingFeatures(problems)
    return Merged(model_rows, logged)
