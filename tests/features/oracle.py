"""An independent point-in-time oracle in plain pandas, written from the issue's words, not
from our SQL: for each entity row (key k, time t), among the source rows with key k and
t - ttl <= event_ts <= t, the one with the greatest (event_ts, created_ts) (no created
time counts as the smallest; an exact tie goes to the row stored later); none: nulls."""

import pandas as pd


def oracle(entities: pd.DataFrame, rows: pd.DataFrame, *, key: str, ttl: pd.Timedelta, features: list[str]) -> pd.DataFrame:
    """rows: key, event_ts, created_ts (NaT allowed), seq (storage order), features."""
    out = []
    lowest = pd.Timestamp.min.tz_localize("UTC")
    for i in range(len(entities)):
        k, t = entities[key].iloc[i], entities["event_timestamp"].iloc[i]
        candidates = rows[(rows[key] == k) & (rows["event_ts"] <= t) & (rows["event_ts"] >= t - ttl)]
        if candidates.empty:
            out.append({f: None for f in features})
            continue
        ranked = candidates.assign(created_rank=candidates["created_ts"].fillna(lowest))
        best = ranked.sort_values(["event_ts", "created_rank", "seq"], kind="stable").iloc[-1]
        out.append({f: (None if pd.isna(best[f]) else best[f]) for f in features})
    return pd.DataFrame(out, columns=features)


def same(a, b) -> bool:
    if a is None or (not isinstance(a, str) and pd.isna(a)):
        return b is None or (not isinstance(b, str) and pd.isna(b))
    if b is None or (not isinstance(b, str) and pd.isna(b)):
        return False
    if isinstance(a, float) or isinstance(b, float):
        return abs(float(a) - float(b)) < 1e-9
    return a == b


def mismatches(got: pd.DataFrame, expected: pd.DataFrame, features: list[str]) -> list[str]:
    problems = []
    for i in range(len(expected)):
        for f in features:
            if not same(got[f].iloc[i], expected[f].iloc[i]):
                problems.append(f"row {i} {f}: got {got[f].iloc[i]!r}, expected {expected[f].iloc[i]!r}")
    return problems
