"""What no endpoint can parse or store safely, refused in one place before any view runs.

- NUL characters (PostgreSQL refuses them in text and jsonb) and lone UTF-16 surrogates
  (they have no UTF-8 encoding) in query parameters, form fields, JSON strings and JSON keys;
- JSON nested deeper than a bound, found by a byte scan before a recursive parser can
  run out of stack (Python's json raises RecursionError near 1,000 levels);
- non-finite numbers in JSON: NaN, Infinity and overflowing literals such as 1e999, which
  Python reads as inf; JSON cannot write them back and jsonb refuses them.

Pure functions, no Django: control_plane.middleware.InputSanityMiddleware applies them to
every request, including the serving fast path. The common case costs two C-speed regex
passes over the body; a body is parsed here only when a pre-filter says it may hold one
of the above, and then only to name the field.
"""

import json
import math
import re
from array import array
from collections.abc import Iterable
from itertools import accumulate

# A JSON string literal, escapes included (the unrolled loop keeps the regex linear).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")  # +1 / -1 as signed bytes
# Escapes that may decode to NUL or to a surrogate half (a false hit, e.g. an escaped
# backslash before "u0000", costs one parse).
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
# Literals that may read as non-finite: NaN, Infinity, a 3-digit exponent, 309+ digits.
_SUSPECT_NUMBER = re.compile(rb"NaN|Infinity|[eE][+]?0*[1-9][0-9]{2}|[0-9]{309}")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class Rejected(ValueError):
    """Input refused: `field` names where (a parameter, or a dotted JSON path)."""

    def __init__(self, field: str, message: str, *, status: int = 422, code: str = "validation_error"):
        super().__init__(message)
        self.field, self.message, self.status, self.code = field, message, status, code


def text_problem(text: str) -> str | None:
    found = _BAD_TEXT.search(text)
    if found is None:
        return None
    return "contains a NUL character" if found.group() == "\x00" else "contains a lone surrogate (not valid Unicode)"


def check_params(pairs: Iterable[tuple[str, str]]) -> None:
    """Query or form parameters: (name, value) pairs."""
    for name, value in pairs:
        problem = text_problem(name)
        if problem:
            raise Rejected(name.encode("utf-8", "backslashreplace").decode(), f"A parameter name {problem}.")
        problem = text_problem(value)
        if problem:
            raise Rejected(name, f"Parameter '{name}' {problem}.")


def _bracket_depth(text: bytes) -> int:
    brackets = text.translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    return max(0, max(accumulate(array("b", brackets.translate(_BRACKET_STEP)))))


def json_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects, brackets inside strings not counted
    (unclosed brackets count: a parser recurses into them as well)."""
    return _bracket_depth(_STRING.sub(b"", body))


def check_json(body: bytes, *, max_depth: int, allow_non_finite: bool = False) -> None:
    """Raise Rejected if `body` nests too deep or holds a value refused above. A body
    that is not JSON at all passes: the view's own parser answers it as malformed."""
    # Brackets inside strings can only add depth, so the string-blind count (a C-speed
    # translate) settles the common case; strings are set aside only when it is over.
    depth = _bracket_depth(body)
    if depth > max_depth:
        depth = json_depth(body)
    if depth > max_depth:
        raise Rejected(
            "body",
            f"JSON nested {depth} levels deep; at most {max_depth} are accepted.",
            status=400,
            code="malformed_request",
        )
    # A one-byte membership test is a memchr; most bodies hold no backslash at all.
    suspect = (b"\\" in body and _SUSPECT_ESCAPE.search(body)) or (
        not allow_non_finite and _SUSPECT_NUMBER.search(body)
    )
    if not suspect:
        return
    try:
        value = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return
    found = first_problem(value, allow_non_finite=allow_non_finite)
    if found:
        field, problem = found
        raise Rejected(field, f"'{field}' {problem}.")


def first_problem(value, *, allow_non_finite: bool = False) -> tuple[str, str] | None:
    """(dotted path, problem) of the first refused string, key or number, in document order."""
    stack = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return path or "body", problem
        elif isinstance(item, float):
            if not allow_non_finite and not math.isfinite(item):
                return path or "body", f"must be a finite number, got {item}"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                child_path = f"{path}.{key}" if path else key
                problem = text_problem(key)
                if problem:
                    return child_path.encode("utf-8", "backslashreplace").decode(), f"key {problem}"
                children.append((child_path, child))
            stack.extend(reversed(children))
        elif isinstance(item, list):
            stack.extend(reversed([(f"{path}[{i}]", child) for i, child in enumerate(item)]))
    return None
