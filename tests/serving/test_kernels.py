"""The pure kernels: sticky routing and serving-schema validation."""

import math

from serving.routing import BUCKETS, bucket, goes_to_challenger
from serving.validation import validate_rows

KEYS = [f"user-{i}" for i in range(20_000)]

SCHEMA = [
    {"name": "tenure", "type": "double", "nullable": False},
    {"name": "tickets", "type": "long", "nullable": False},
    {"name": "plan", "type": "string", "nullable": True},
    {"name": "active", "type": "boolean", "nullable": False},
]


def test_bucket_is_stable_and_in_range():
    assert bucket("user-42") == bucket("user-42")
    assert all(0 <= bucket(k) < BUCKETS for k in KEYS[:1000])


def test_raising_the_weight_never_moves_a_key_back_to_the_champion():
    previous = set()
    for weight in (5, 20, 50, 100):
        now = {k for k in KEYS if goes_to_challenger(k, weight)}
        assert previous <= now, f"keys left the challenger when the weight rose to {weight}"
        previous = now
    assert previous == set(KEYS)


def test_the_challenger_share_follows_the_weight():
    for weight in (0, 5, 20, 50):
        share = sum(goes_to_challenger(k, weight) for k in KEYS) / len(KEYS)
        assert abs(share - weight / 100) < 0.015, (weight, share)


def test_valid_rows_pass():
    rows = [{"tenure": 3.5, "tickets": 2, "plan": None, "active": True}, {"tenure": 1, "tickets": 4.0, "plan": "pro", "active": False}]
    assert validate_rows(rows, SCHEMA) == []


def test_every_problem_is_named_with_row_and_field():
    rows = [
        {"tenure": "3", "tickets": 2, "plan": "a", "active": True},  # wrong type
        {"tickets": 2.5, "plan": "a", "active": 1, "extra": 1},  # missing, non-integer, not bool, unknown
        {"tenure": math.nan, "tickets": 1, "plan": "a", "active": True},  # NaN
        {"tenure": math.inf, "tickets": None, "plan": "a", "active": True},  # inf, null not allowed
    ]

    problems = {(p["row"], p["field"]) for p in validate_rows(rows, SCHEMA)}

    assert problems == {
        (0, "tenure"),
        (1, "tenure"),
        (1, "tickets"),
        (1, "active"),
        (1, "extra"),
        (2, "tenure"),
        (3, "tenure"),
        (3, "tickets"),
    }


def test_unknown_features_can_be_allowed_explicitly():
    row = {"tenure": 1.0, "tickets": 1, "plan": "a", "active": True, "extra": 9}
    assert validate_rows([row], SCHEMA, allow_unknown=True) == []
    assert validate_rows([row], SCHEMA)[0]["field"] == "extra"
