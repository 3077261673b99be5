"""The benchmark's data, the same files for both tools: feature rows (user_id,
event_timestamp, created, f0..f9) and an entity frame (row_id, user_id, event_timestamp).
Times are whole seconds in the 60 days before `now` (so exact TTL edges occur); about 5%
of rows are corrections (same key and event time, later created time); 10% of the entity
rows have keys that never appear."""

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

FEATURES = [f"f{i}" for i in range(10)]
TTL_SECONDS = 30 * 86400
SPAN_SECONDS = 60 * 86400


def generate(out: Path, *, rows: int, keys: int, entity_rows: int, now: pd.Timestamp, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    start = now - pd.Timedelta(seconds=SPAN_SECONDS)
    users = rng.integers(0, keys, rows)
    users[:keys] = np.arange(keys)  # every key has at least one row
    events = start + pd.to_timedelta(rng.integers(0, SPAN_SECONDS, rows), unit="s")
    created = events + pd.to_timedelta(rng.integers(0, 3600, rows), unit="s")
    frame = pd.DataFrame({"user_id": users.astype("int64"), "event_timestamp": events, "created": created})
    for name in FEATURES:
        frame[name] = rng.normal(0, 1, rows).round(6)
    corrections = frame.sample(frac=0.05, random_state=seed).copy()
    corrections["created"] = corrections["created"] + pd.Timedelta(hours=2)
    corrections[FEATURES] = rng.normal(5, 1, (len(corrections), len(FEATURES))).round(6)
    frame = pd.concat([frame.iloc[: rows - len(corrections)], corrections], ignore_index=True)
    frame.to_parquet(out / "features.parquet", index=False)
    entity = pd.DataFrame({
        "row_id": np.arange(entity_rows, dtype="int64"),
        "user_id": rng.integers(0, int(keys * 1.1), entity_rows).astype("int64"),
        "event_timestamp": start + pd.to_timedelta(rng.integers(0, SPAN_SECONDS, entity_rows), unit="s"),
    })
    # Exact edges: some entity rows at a feature row's event time, and exactly one TTL after it.
    picks = frame.sample(n=min(2000, entity_rows // 10), random_state=seed + 1)
    half = len(picks) // 2
    entity.loc[: half - 1, "user_id"] = picks["user_id"].to_numpy()[:half]
    entity.loc[: half - 1, "event_timestamp"] = picks["event_timestamp"].to_numpy()[:half]
    entity.loc[half : len(picks) - 1, "user_id"] = picks["user_id"].to_numpy()[half:]
    entity.loc[half : len(picks) - 1, "event_timestamp"] = (picks["event_timestamp"] + pd.Timedelta(seconds=TTL_SECONDS)).to_numpy()[half:]
    entity.to_parquet(out / "entities.parquet", index=False)


def oracle(entities: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """Independent of both tools: pandas merge_asof (backward, inclusive tolerance = TTL)
    over rows reduced to the greatest created time per (key, event time)."""
    latest = (features.sort_values(["user_id", "event_timestamp", "created"])
              .drop_duplicates(["user_id", "event_timestamp"], keep="last")
              .sort_values("event_timestamp"))
    left = entities.sort_values("event_timestamp")
    joined = pd.merge_asof(left, latest.drop(columns=["created"]).rename(columns={"event_timestamp": "feature_ts"}),
                           left_on="event_timestamp", right_on="feature_ts", by="user_id", direction="backward",
                           tolerance=pd.Timedelta(seconds=TTL_SECONDS), allow_exact_matches=True)
    return joined.sort_values("row_id").reset_index(drop=True)[["row_id"] + FEATURES]


def mismatches(got: pd.DataFrame, expected: pd.DataFrame) -> int:
    """Rows (by row_id) whose features differ (nulls equal nulls)."""
    got = got.set_index("row_id").sort_index()[FEATURES]
    expected = expected.set_index("row_id").sort_index()[FEATURES]
    if len(got) != len(expected) or not got.index.equals(expected.index):
        return abs(len(expected) - len(got.index.intersection(expected.index))) or len(expected)
    a, b = got.to_numpy(dtype=float), expected.to_numpy(dtype=float)
    differ = ~((np.isnan(a) & np.isnan(b)) | (np.abs(a - b) < 1e-9))
    return int(differ.any(axis=1).sum())


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--entity-rows", type=int, default=100_000)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    generate(args.out, rows=args.rows, keys=args.keys, entity_rows=args.entity_rows,
             now=pd.Timestamp.now(tz="UTC").floor("s"))
