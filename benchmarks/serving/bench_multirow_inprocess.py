"""Item 4 of issue 15, in process: validation and log encoding of one 100-row request (12 numeric
features), the two per-row costs of serve() besides scoring. Run from the repository root:

    python benchmarks/serving/bench_multirow_inprocess.py
"""
import os, sys, timeit
sys.path.insert(0, os.getcwd())
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
import django; django.setup()
from datetime import UTC, datetime
import numpy as np
from serving.validation import validate_rows
from monitoring.log_codec import encode_many
from monitoring.records import PredictionRecord
rng = np.random.default_rng(1)
rows = [{f"f{i}": float(v) for i, v in enumerate(r)} for r in rng.normal(size=(100, 12))]
schema = [{"name": f"f{i}", "type": "double"} for i in range(12)]
recs = [PredictionRecord(request_id=f"r-{i}", model_name="m", model_version=1, variant="champion", timestamp=datetime.now(UTC),
        features=row, prediction={"label": 1, "probability": 0.7}, latency_ms=1.2, deployment_id=1) for i, row in enumerate(rows)]
for name, f in (("validate_rows, 100 rows", lambda: validate_rows(rows, schema)), ("encode_many, 100 records", lambda: encode_many(recs))):
    best = min(timeit.repeat(f, number=50, repeat=7)) / 50
    print(f"{name:<28} {best*1e6:8.0f} us")
