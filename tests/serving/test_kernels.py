"""The pure kernels: sticky routing and serving-schema validation."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

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


NUMERIC_SCHEMA = [{"name": "x", "type": "double"}, {"name": "n", "type": "long"}, {"name": "y", "type": "float"}]
_ODD_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-(2**70), max_value=2**70),
    st.booleans(), st.none(), st.text(max_size=3), st.just(2.5), st.just(3.0),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(["x", "n", "y", "z"]), _ODD_VALUES, min_size=2, max_size=4),
                min_size=2, max_size=6), st.booleans())
def test_the_array_check_of_numeric_rows_agrees_with_the_row_by_row_check(rows, allow_unknown):
    one_by_one = [p for i, row in enumerate(rows) for p in validate_rows([row], NUMERIC_SCHEMA, allow_unknown=allow_unknown)]
    assert (validate_rows(rows, NUMERIC_SCHEMA, allow_unknown=allow_unknown) == []) == (one_by_one == [])


def test_a_hundred_valid_numeric_rows_take_the_array_check_and_a_bad_one_is_still_named():
    rows = [{"x": 0.5 * i, "n": i, "y": float(i)} for i in range(100)]
    assert validate_rows(rows, NUMERIC_SCHEMA) == []
    rows[57]["n"] = 2.5
    rows[81]["x"] = True
    assert [(p["row"], p["field"]) for p in validate_rows(rows, NUMERIC_SCHEMA)] == [(57, "n"), (81, "x")]
