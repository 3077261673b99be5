"""control_plane/input_sanity.py alone: depth scan, document-order walk, the non-finite switch."""

import pytest

from control_plane import input_sanity

def test_depth_ignores_brackets_inside_strings():
    assert input_sanity.json_depth(b'{"a": "[[[[{{{{", "b": [[1]]}') == 3
    assert input_sanity.json_depth(b'"\\"[[["') == 0
    assert input_sanity.json_depth(b"[[[[") == 4  # unclosed: a parser recurses into them too


def test_first_problem_walks_in_document_order():
    value = {"a": [1.0, {"b": "ok"}, float("inf")], "c": "\x00"}
    assert input_sanity.first_problem(value) == ("a[2]", "must be a finite number, got inf")
    assert input_sanity.first_problem(value, allow_non_finite=True) == ("c", "contains a NUL character")


def test_non_finite_is_allowed_where_asked():
    input_sanity.check_json(b'{"x": NaN, "y": 1e999}', max_depth=8, allow_non_finite=True)
    with pytest.raises(input_sanity.Rejected) as refused:
        input_sanity.check_json(b'{"x": 1, "y": -1e999}', max_depth=8)
    assert refused.value.field == "y"
