"""In-process cost of the input sanity check on scoring bodies (control_plane/input_sanity.py
via InputSanityMiddleware), next to json.loads of the same body for scale.

    DJANGO_SETTINGS_MODULE=control_plane.settings python benchmarks/serving/input_sanity_cost.py
"""

import json
import os
import random
import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")

import django  # noqa: E402

django.setup()

from django.test import RequestFactory  # noqa: E402

from control_plane.middleware import InputSanityMiddleware  # noqa: E402

rng = random.Random(7)
ROW = {f"f{i}": rng.uniform(0, 100) for i in range(10)} | {"plan": "basic", "region": "eu-west"}


def body(rows: int, accented: bool = False) -> bytes:
    row = ROW | ({"city": "Zürich"} if accented else {})
    return json.dumps({"instances": [row] * rows}, ensure_ascii=True).encode()


def per_call_us(func, number: int) -> float:
    runs = timeit.repeat(func, number=number, repeat=7)
    return statistics.median(runs) / number * 1e6


factory = RequestFactory()
for label, payload in [("1 row", body(1)), ("100 rows", body(100)), ("100 rows, \\u escapes", body(100, True))]:
    request = factory.post("/api/v1/serve/m/predict", payload, content_type="application/json")
    request.body  # noqa: B018 - read once, as the view does
    check = per_call_us(lambda: InputSanityMiddleware._check(request), 2000)
    parse = per_call_us(lambda: json.loads(payload), 2000)
    print(f"{label:24s} {len(payload):7d} bytes  check {check:8.1f} us  json.loads {parse:8.1f} us")
