"""Request bodies of the scoring endpoints, parsed once, fast."""

import json
import re

import orjson

# orjson reads an integer beyond 64 bits as a float; every such integer has 19 or more digits.
LONG_DIGIT_RUN = re.compile(rb"\d{19}")


def parse_json(raw: bytes):
    """orjson (a 100-row body in a fifth of the time); the standard library for what orjson
    refuses or reads otherwise, so the result is the same: NaN and Infinity (validation then
    names them), integers beyond 64 bits, lone surrogates, and a malformed body's message."""
    if LONG_DIGIT_RUN.search(raw):
        return json.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
