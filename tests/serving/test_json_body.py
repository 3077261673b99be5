"""Request bodies parse to what the standard library makes of them, orjson or not."""

import json

import pytest

from serving.json_body import parse_json

BODIES = [
    b'{"instances": [{"a": 1.5, "b": -2, "c": null, "d": true, "e": "x\\u00e9"}]}',
    b'{"instances": [{"a": NaN, "b": Infinity, "c": -Infinity}]}',  # orjson refuses these
    b'{"instances": [{"a": 123456789012345678901234567890}]}',  # beyond 64 bits
    b'{"instances": [{"a": "\\ud800"}]}',  # a lone surrogate
    b'{"a": 1, "a": 2}',
    b"null",
]


@pytest.mark.parametrize("raw", BODIES)
def test_same_value_as_the_standard_library(raw):
    parsed, expected = parse_json(raw), json.loads(raw)
    assert json.dumps(parsed, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert repr(parsed) == repr(expected)  # NaN == NaN is false: compare the spelled-out values


@pytest.mark.parametrize("raw", [b"{", b'{"a": }', b"\xff\xfe"])
def test_a_malformed_body_raises_what_json_raises(raw):
    with pytest.raises(ValueError) as ours:
        parse_json(raw)
    with pytest.raises(ValueError) as standard:
        json.loads(raw)
    assert str(ours.value) == str(standard.value)
