"""MLflow search syntax, parsed without Django: filter strings, order_by clauses and
page tokens, as MLflow's search-registered-models and search-model-versions take them.

    name = 'churn' AND tags.team = 'growth' AND tags.`data set` LIKE '%eu%'
    run_id IN ('a1', 'b2') AND version_number >= 3

Clauses are AND-combined (MLflow has no OR). Values are quoted with ' or " (a quote
inside is doubled or backslash-escaped); numeric attributes take bare integers. A
problem raises SearchError naming it; the API answers it as INVALID_PARAMETER_VALUE.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass


class SearchError(ValueError):
    pass


@dataclass(frozen=True)
class Clause:
    kind: str  # "attribute" or "tag"
    key: str
    comparator: str  # =, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN
    value: str | int | tuple


@dataclass(frozen=True)
class Attribute:
    comparators: frozenset[str]
    numeric: bool = False


STRING = frozenset({"=", "!=", "LIKE", "ILIKE"})
NUMERIC = frozenset({"=", "!=", "<", "<=", ">", ">="})
TAG_COMPARATORS = STRING

# What each search accepts, as MLflow's (3.17) SQL store does.
MODEL_ATTRIBUTES = {"name": Attribute(STRING | {"IN"})}
VERSION_ATTRIBUTES = {
    "name": Attribute(STRING | {"IN", "NOT IN"}),
    "run_id": Attribute(STRING | {"IN", "NOT IN"}),
    "source_path": Attribute(STRING | {"IN", "NOT IN"}),
    "version_number": Attribute(NUMERIC, numeric=True),
}
MODEL_ORDER_KEYS = {
    "name": "name",
    "timestamp": "last_updated_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
    "creation_timestamp": "creation_timestamp",
}
VERSION_ORDER_KEYS = {
    "name": "name",
    "version_number": "version_number",
    "creation_timestamp": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<ident>
        `[^`]+`(?:\.`[^`]+`)?
      | [A-Za-z_][\w]*(?:\.(?:`[^`]+`|"[^"]+"|[\w.\-:/]+))?
    )
    """,
    re.VERBOSE,
)
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "ILIKE", "IN"}
_TAG_PREFIXES = ("tags", "tag")


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise SearchError(f"Invalid filter string: unexpected {text[pos:pos + 20]!r} at position {pos}.")
        pos = match.end()
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "ws":
            continue
        if kind == "ident" and value.upper() in _KEYWORDS:
            kind, value = "keyword", value.upper()
        out.append((kind, value))
    return out


def _unquote(token: str) -> str:
    quote, body = token[0], token[1:-1]
    body = body.replace(quote * 2, quote)
    return re.sub(r"\\(.)", r"\1", body)


def _key(token: str, attributes: dict[str, Attribute]) -> tuple[str, str]:
    """An identifier -> ("attribute", name) or ("tag", key)."""
    if token.startswith("`") and token.endswith("`") and token.count("`") == 2:
        token = token[1:-1]  # `name` or `tags.key` quoted whole
    head, dot, rest = token.partition(".")
    head = head.strip("`")
    if dot and head.lower() in _TAG_PREFIXES:
        key = rest[1:-1] if rest[:1] in "`\"" and rest[-1:] == rest[:1] and len(rest) > 1 else rest
        if not key:
            raise SearchError("Invalid filter string: a tag filter needs a key, as in tags.team = 'x'.")
        return "tag", key
    if dot and head.lower() in ("attribute", "attributes", "attr"):
        head, dot, rest = rest.strip("`"), "", ""
    if dot:
        raise SearchError(
            f"Invalid filter string: unknown entity '{head}' in '{token}'; use tags.<key> or one of "
            f"{', '.join(sorted(attributes))}."
        )
    if head not in attributes:
        raise SearchError(
            f"Invalid attribute key '{head}' specified. Valid keys are "
            f"{', '.join(sorted(attributes))} and tags.<key>."
        )
    return "attribute", head


def parse_filter(filter_string: str | None, attributes: dict[str, Attribute]) -> list[Clause]:
    """Parse an AND-combined MLflow filter string against the allowed attributes."""
    if not filter_string or not filter_string.strip():
        return []
    tokens = _tokens(filter_string)
    clauses: list[Clause] = []
    i = 0

    def take(expected: str | None = None) -> tuple[str, str]:
        nonlocal i
        if i >= len(tokens):
            raise SearchError(f"Invalid filter string '{filter_string}': it ends too early.")
        token = tokens[i]
        if expected is not None and token[0] != expected:
            raise SearchError(f"Invalid filter string '{filter_string}': unexpected '{token[1]}'.")
        i += 1
        return token

    while True:
        kind, text = take()
        if kind != "ident":
            if text == "OR":
                raise SearchError("Invalid filter string: OR is not supported; combine clauses with AND.")
            raise SearchError(f"Invalid filter string '{filter_string}': expected a key, got '{text}'.")
        key_kind, key = _key(text, attributes)
        kind, op = take()
        if kind == "keyword" and op == "NOT":
            if i >= len(tokens) or tokens[i] != ("keyword", "IN"):
                raise SearchError("Invalid filter string: NOT is supported only as NOT IN.")
            i += 1
            op = "NOT IN"
        if not (kind == "op" or (kind == "keyword" and op in ("LIKE", "ILIKE", "IN", "NOT IN"))):
            raise SearchError(
                f"Invalid filter string '{filter_string}': expected a comparator after '{text}', got '{op}'."
            )
        op = "!=" if op == "<>" else op
        allowed = TAG_COMPARATORS if key_kind == "tag" else attributes[key].comparators
        if op not in allowed:
            what = f"tag '{key}'" if key_kind == "tag" else f"attribute '{key}'"
            raise SearchError(f"Invalid comparator '{op}' for {what}; use one of {', '.join(sorted(allowed))}.")
        numeric = key_kind == "attribute" and attributes[key].numeric
        if op in ("IN", "NOT IN"):
            take("lparen")
            values = []
            while True:
                values.append(_value(take(), key, numeric))
                kind, text = take()
                if kind == "rparen":
                    break
                if kind != "comma":
                    raise SearchError(f"Invalid filter string '{filter_string}': expected ',' or ')' in the IN list.")
            value: str | int | tuple = tuple(values)
        else:
            value = _value(take(), key, numeric)
        clauses.append(Clause(key_kind, key, op, value))
        if i == len(tokens):
            return clauses
        kind, text = take()
        if text == "OR":
            raise SearchError("Invalid filter string: OR is not supported; combine clauses with AND.")
        if text != "AND":
            raise SearchError(f"Invalid filter string '{filter_string}': expected AND, got '{text}'.")


def _value(token: tuple[str, str], key: str, numeric: bool) -> str | int:
    kind, text = token
    if numeric:
        if kind == "number" and re.fullmatch(r"-?\d+", text):
            return int(text)
        if kind == "string" and re.fullmatch(r"-?\d+", _unquote(text)):
            return int(_unquote(text))
        raise SearchError(f"Invalid value {text} for '{key}': expected an integer.")
    if kind != "string":
        raise SearchError(f"Invalid value {text} for '{key}': string values must be quoted, as in {key} = 'x'.")
    return _unquote(text)


# MLflow keeps prompts in the registry as models with this tag; its client adds
# "tag.`mlflow.prompt.is_prompt` != 'true'" to every model search.
PROMPT_TAG = "mlflow.prompt.is_prompt"


def split_prompt_clauses(clauses: list[Clause]) -> tuple[list[Clause], bool]:
    """The clauses without those on the prompt tag, and whether the search asks for
    prompts. As in MLflow, a model without the tag is not a prompt, so the default
    (and `!= 'true'`) means "models that are not prompts", not "models with the tag"."""
    wants_prompts = False
    for clause in clauses:
        if clause.kind == "tag" and clause.key == PROMPT_TAG:
            value = str(clause.value).lower()
            wants_prompts = (clause.comparator == "=" and value == "true") or (
                clause.comparator == "!=" and value == "false"
            )
            break
    rest = [c for c in clauses if not (c.kind == "tag" and c.key == PROMPT_TAG)]
    return rest, wants_prompts


def like_to_regex(pattern: str) -> str:
    """A SQL LIKE pattern (% any run, _ one character) as an anchored regular expression."""
    out = []
    for char in pattern:
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return "^" + "".join(out) + "$"


def parse_order_by(order_by: list[str] | None, keys: dict[str, str]) -> list[tuple[str, bool]]:
    """["name ASC", "last_updated_timestamp DESC"] -> [(canonical key, ascending)]."""
    parsed: list[tuple[str, bool]] = []
    for clause in order_by or []:
        if not isinstance(clause, str) or not clause.strip():
            raise SearchError(f"Invalid order_by clause {clause!r}.")
        parts = clause.replace("`", "").split()
        if len(parts) > 2:
            raise SearchError(f"Invalid order_by clause '{clause}'. Could not be parsed.")
        name = parts[0]
        if name.lower().startswith("attribute."):
            name = name[len("attribute.") :]
        if name not in keys:
            raise SearchError(f"Invalid order by key '{name}' specified. Valid keys are {', '.join(sorted(keys))}.")
        ascending = True
        if len(parts) == 2:
            direction = parts[1].upper()
            if direction not in ("ASC", "DESC"):
                raise SearchError(f"Invalid ordering key in order_by clause '{clause}': use ASC or DESC.")
            ascending = direction == "ASC"
        key = keys[name]
        if any(existing == key for existing, _ in parsed):
            raise SearchError(f"`order_by` contains duplicate fields: {order_by}")
        parsed.append((key, ascending))
    return parsed


def page_token_encode(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_token_decode(token: str | None) -> int:
    """The offset a page token carries (the same format as MLflow's: base64 JSON)."""
    if not token:
        return 0
    try:
        decoded = base64.b64decode(token, validate=True)
    except (binascii.Error, ValueError):
        raise SearchError("Invalid page token, could not base64-decode.") from None
    try:
        offset = json.loads(decoded)["offset"]
    except (ValueError, KeyError, TypeError):
        raise SearchError(f"Invalid page token, decoded value={decoded!r}.") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise SearchError(f"Invalid page token: offset {offset!r} is not a non-negative integer.")
    return offset
