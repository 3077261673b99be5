"""The MLflow search syntax parser, alone: no database, no server."""

import re

import pytest

from registry.mlflow_search import (
    MODEL_ATTRIBUTES,
    MODEL_ORDER_KEYS,
    VERSION_ATTRIBUTES,
    VERSION_ORDER_KEYS,
    Clause,
    SearchError,
    like_to_regex,
    page_token_decode,
    page_token_encode,
    parse_filter,
    parse_order_by,
    split_prompt_clauses,
)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", []),
        ("   ", []),
        (None, []),
        ("name = 'churn'", [Clause("attribute", "name", "=", "churn")]),
        ("name='churn'", [Clause("attribute", "name", "=", "churn")]),
        ('name = "churn"', [Clause("attribute", "name", "=", "churn")]),
        ("name LIKE '%churn%'", [Clause("attribute", "name", "LIKE", "%churn%")]),
        ("name ilike '%Churn%'", [Clause("attribute", "name", "ILIKE", "%Churn%")]),
        ("name != 'x'", [Clause("attribute", "name", "!=", "x")]),
        ("attribute.name = 'x'", [Clause("attribute", "name", "=", "x")]),
        ("`name` = 'x'", [Clause("attribute", "name", "=", "x")]),
        ("tags.team = 'growth'", [Clause("tag", "team", "=", "growth")]),
        ("tag.team = 'growth'", [Clause("tag", "team", "=", "growth")]),
        ("tags.`data set` = 'eu'", [Clause("tag", "data set", "=", "eu")]),
        ('tags."data set" = \'eu\'', [Clause("tag", "data set", "=", "eu")]),
        ("`tags.mlflow.source` = 'x'", [Clause("tag", "mlflow.source", "=", "x")]),
        ("tags.mlflow.user = 'x'", [Clause("tag", "mlflow.user", "=", "x")]),
        ("name = 'it''s'", [Clause("attribute", "name", "=", "it's")]),
        ("name = 'it\\'s'", [Clause("attribute", "name", "=", "it's")]),
        ("name = 'a AND b'", [Clause("attribute", "name", "=", "a AND b")]),
        (
            "name LIKE 'churn%' AND tags.team = 'growth' and tags.tier != 'gold'",
            [
                Clause("attribute", "name", "LIKE", "churn%"),
                Clause("tag", "team", "=", "growth"),
                Clause("tag", "tier", "!=", "gold"),
            ],
        ),
    ],
)
def test_model_filters_parse(text, expected):
    assert parse_filter(text, MODEL_ATTRIBUTES) == expected


def test_model_names_can_be_listed_as_in_mlflow_3_17():
    assert parse_filter("name IN ('churn', 'Model 1')", MODEL_ATTRIBUTES) == [
        Clause("attribute", "name", "IN", ("churn", "Model 1"))
    ]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("run_id = 'abc123'", [Clause("attribute", "run_id", "=", "abc123")]),
        ("run_id IN ('a', 'b')", [Clause("attribute", "run_id", "IN", ("a", "b"))]),
        ("name NOT IN ('a', 'b c')", [Clause("attribute", "name", "NOT IN", ("a", "b c"))]),
        ("source_path in ('s3://x')", [Clause("attribute", "source_path", "IN", ("s3://x",))]),
        ("version_number >= 3", [Clause("attribute", "version_number", ">=", 3)]),
        ("version_number = '3'", [Clause("attribute", "version_number", "=", 3)]),
        ("source_path LIKE 's3://%'", [Clause("attribute", "source_path", "LIKE", "s3://%")]),
        (
            "name = 'm' AND run_id = 'r'",
            [Clause("attribute", "name", "=", "m"), Clause("attribute", "run_id", "=", "r")],
        ),
    ],
)
def test_version_filters_parse(text, expected):
    assert parse_filter(text, VERSION_ATTRIBUTES) == expected


@pytest.mark.parametrize(
    "text, attributes, message",
    [
        ("name = 'a' OR name = 'b'", MODEL_ATTRIBUTES, "OR is not supported"),
        ("foo = 'x'", MODEL_ATTRIBUTES, "Invalid attribute key 'foo'"),
        ("run_id = 'x'", MODEL_ATTRIBUTES, "Invalid attribute key 'run_id'"),
        ("name = x", MODEL_ATTRIBUTES, "must be quoted"),
        ("name > 'x'", MODEL_ATTRIBUTES, "Invalid comparator '>' for attribute 'name'"),
        ("version_number IN (1)", VERSION_ATTRIBUTES, "Invalid comparator 'IN'"),
        ("name NOT IN ('x')", MODEL_ATTRIBUTES, "Invalid comparator 'NOT IN'"),
        ("tags.k IN ('x')", VERSION_ATTRIBUTES, "Invalid comparator 'IN' for tag 'k'"),
        ("name = 'x' AND", MODEL_ATTRIBUTES, "ends too early"),
        ("name = 'x' name = 'y'", MODEL_ATTRIBUTES, "expected AND"),
        ("name 'x'", MODEL_ATTRIBUTES, "expected a comparator"),
        ("name = 'unterminated", MODEL_ATTRIBUTES, "unexpected"),
        ("version_number = 'x'", VERSION_ATTRIBUTES, "expected an integer"),
        ("version_number = 2.5", VERSION_ATTRIBUTES, "expected an integer"),
        ("name = 2", MODEL_ATTRIBUTES, "must be quoted"),
        ("run_id IN ('a' 'b')", VERSION_ATTRIBUTES, "expected ',' or ')'"),
        ("NOT name = 'x'", MODEL_ATTRIBUTES, "expected a key"),
        ("name NOT LIKE 'x'", MODEL_ATTRIBUTES, "NOT is supported only as NOT IN"),
        ("metrics.auc > 0.9", VERSION_ATTRIBUTES, "unknown entity 'metrics'"),
        ("tags. = 'x'", MODEL_ATTRIBUTES, "unexpected"),
    ],
)
def test_bad_filters_name_the_problem(text, attributes, message):
    with pytest.raises(SearchError, match=re.escape(message)):
        parse_filter(text, attributes)


@pytest.mark.parametrize(
    "pattern, matches, misses",
    [
        ("%churn%", ["churn", "my-churn-model"], ["chur", "CHURN"]),
        ("churn_", ["churn1", "churnX"], ["churn", "churn12"]),
        ("a.b%", ["a.b", "a.bc"], ["axb"]),
        ("(x)+[y]", ["(x)+[y]"], ["xxy"]),
    ],
)
def test_like_patterns_become_anchored_regexes(pattern, matches, misses):
    regex = re.compile(like_to_regex(pattern))
    assert all(regex.match(m) for m in matches)
    assert not any(regex.match(m) for m in misses)


def test_order_by_parses_keys_and_directions():
    assert parse_order_by(None, MODEL_ORDER_KEYS) == []
    assert parse_order_by(["name"], MODEL_ORDER_KEYS) == [("name", True)]
    assert parse_order_by(["name DESC", "timestamp asc"], MODEL_ORDER_KEYS) == [
        ("name", False),
        ("last_updated_timestamp", True),
    ]
    assert parse_order_by(["creation_timestamp DESC"], MODEL_ORDER_KEYS) == [("creation_timestamp", False)]
    assert parse_order_by(["version_number ASC", "`name`"], VERSION_ORDER_KEYS) == [
        ("version_number", True),
        ("name", True),
    ]


@pytest.mark.parametrize(
    "order_by, keys, message",
    [
        (["foo"], MODEL_ORDER_KEYS, "Invalid order by key 'foo'"),
        (["version_number"], MODEL_ORDER_KEYS, "Invalid order by key 'version_number'"),
        (["name sideways"], MODEL_ORDER_KEYS, "use ASC or DESC"),
        (["name ASC extra"], MODEL_ORDER_KEYS, "Could not be parsed"),
        (["name", "name DESC"], MODEL_ORDER_KEYS, "duplicate"),
        (["timestamp", "last_updated_timestamp"], MODEL_ORDER_KEYS, "duplicate"),
        ([""], VERSION_ORDER_KEYS, "Invalid order_by clause"),
    ],
)
def test_bad_order_by_is_named(order_by, keys, message):
    with pytest.raises(SearchError, match=re.escape(message)):
        parse_order_by(order_by, keys)


def test_page_tokens_round_trip_and_reject_garbage():
    assert page_token_decode(None) == 0
    assert page_token_decode("") == 0
    for offset in (0, 2, 1000):
        assert page_token_decode(page_token_encode(offset)) == offset
    # The format is MLflow's own (base64 of {"offset": n}), so its tokens work here too.
    assert page_token_decode("eyJvZmZzZXQiOiAxfQ==") == 1
    for bad in ("zzz", "bm90IGpzb24=", "eyJvZmZzZXQiOiAtMX0=", "eyJmb28iOiAxfQ=="):
        with pytest.raises(SearchError, match="Invalid page token"):
            page_token_decode(bad)


def test_the_prompt_tag_is_split_off_as_mlflow_treats_it():
    """MLflow's client adds "tag.`mlflow.prompt.is_prompt` != 'true'" to model searches:
    that means "not a prompt" (a model without the tag included), not "has the tag"."""
    clauses = parse_filter("name = 'x' AND tag.`mlflow.prompt.is_prompt` != 'true'", MODEL_ATTRIBUTES)
    assert split_prompt_clauses(clauses) == ([Clause("attribute", "name", "=", "x")], False)
    assert split_prompt_clauses(parse_filter("tags.`mlflow.prompt.is_prompt` = 'true'", MODEL_ATTRIBUTES)) == ([], True)
    assert split_prompt_clauses(parse_filter("tags.`mlflow.prompt.is_prompt` != 'false'", MODEL_ATTRIBUTES))[1] is True
    assert split_prompt_clauses(parse_filter("tags.team = 'a'", MODEL_ATTRIBUTES)) == (
        [Clause("tag", "team", "=", "a")],
        False,
    )
