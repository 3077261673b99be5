"""Replay: a version scored offline on logged traffic equals scoring the same rows directly;
it resumes after a stop; the comparison kernel's bootstrap and metrics."""

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest
from django.utils import timezone

from monitoring.drift.performance import roc_auc
from monitoring.models import PredictionLog
from registry import model_loading
from retraining import comparison
from retraining.replay import replay_job_create, replay_job_run, replay_scores
from retraining.scoring import scores_of
from tests.conftest import staged_version
from tests.serving.conftest import SERVING_SCHEMA, save_classifier

from .conftest import FEATURES


@pytest.fixture(scope="module")
def other_source(tmp_path_factory):
    return save_classifier(tmp_path_factory.mktemp("replay") / "other", seed=4, flip=True)


@pytest.fixture
def challenger(traffic, contributor, other_source):
    return staged_version(contributor, source=other_source, schema=SERVING_SCHEMA)


def _window():
    now = timezone.now()
    return now - timedelta(days=10), now + timedelta(minutes=1)


@pytest.mark.django_db
def test_replay_equals_scoring_the_same_rows_directly(challenger, contributor, settings):
    settings.RETRAINING_REPLAY_CHUNK_ROWS = 400
    since, until = _window()
    job = replay_job_create(actor=contributor, model=challenger.model, version=challenger.version, since=since,
                            until=until, enqueue=False)
    job = replay_job_run(job.pk)
    assert job.status == "succeeded", job.error
    assert job.rows_done == job.rows_total == 1500 and job.chunks_done == 4
    data = replay_scores(job)
    rows = PredictionLog.objects.filter(pk__in=data["ids"].tolist()).in_bulk()
    frame = pd.DataFrame([rows[int(i)].features for i in data["ids"]])[FEATURES]
    direct_challenger = scores_of(model_loading.load_version(challenger).model, frame)
    direct_champion = scores_of(model_loading.load_version(job.champion).model, frame)
    np.testing.assert_allclose(data["challenger"], direct_challenger, rtol=1e-6)
    np.testing.assert_allclose(data["champion"], direct_champion, rtol=1e-6)
    truth = np.array([rows[int(i)].ground_truth for i in data["ids"]], dtype=float)
    np.testing.assert_array_equal(data["y"], truth)
    result = job.result
    assert result["metric"] == "roc_auc" and result["labelled_rows"] == 1500
    assert result["challenger_value"] == pytest.approx(roc_auc(truth, direct_challenger), abs=1e-6)
    assert result["champion_value"] == pytest.approx(roc_auc(truth, direct_champion), abs=1e-6)
    assert result["beats_champion"] is False  # the flipped model is worse
    assert sum(result["histograms"]["challenger"]) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.django_db
def test_replay_resumes_after_its_last_committed_chunk(challenger, contributor, settings):
    settings.RETRAINING_REPLAY_CHUNK_ROWS = 500
    since, until = _window()
    job = replay_job_create(actor=contributor, model=challenger.model, version=challenger.version, since=since,
                            until=until, enqueue=False)
    job = replay_job_run(job.pk, max_chunks=1)  # as if the worker died after one chunk
    assert job.status == "running" and job.chunks_done == 1 and job.rows_done == 500
    job = replay_job_run(job.pk)
    assert job.status == "succeeded" and job.rows_done == 1500
    ids = replay_scores(job)["ids"]
    assert len(ids) == len(set(ids.tolist())) == 1500


@pytest.mark.django_db
def test_replay_api_answers_202_and_the_comparison(challenger, contributor, api, inline):
    since, until = _window()
    url = f"/api/v1/models/churn-predictor/versions/{challenger.version}/replay/"
    client = api(contributor)
    response = inline(client.post, path=url, data={"since": since.isoformat(), "until": until.isoformat()}, format="json")
    assert response.status_code == 202, response.json()
    job = client.get(response["Location"]).json()
    assert job["status"] == "succeeded" and job["progress"] == 1.0
    assert job["result"]["champion_version"] == 1 and job["result"]["interval"]["low"] is not None
    bad = client.post(url, {"since": until.isoformat(), "until": since.isoformat()}, format="json")
    assert bad.status_code == 422 and "since" in bad.json()["error"]["details"]
    assert client.post("/api/v1/models/churn-predictor/versions/99/replay/", {"since": since.isoformat(),
                       "until": until.isoformat()}, format="json").status_code == 404


def test_weighted_auc_with_unit_weights_is_the_plain_auc():
    rng = np.random.default_rng(0)
    y = (rng.random(2000) < 0.3).astype(float)
    scores = np.round(rng.random(2000) * 0.5 + y * 0.3, 2)  # ties on purpose
    assert comparison.metric_value("roc_auc", y, scores) == pytest.approx(roc_auc(y, scores), abs=1e-12)


def test_bootstrap_interval_separates_a_better_model_and_not_an_equal_one():
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 0.4).astype(float)
    champion = np.clip(y * 0.2 + rng.random(3000) * 0.8, 0, 1)
    challenger = np.clip(y * 0.5 + rng.random(3000) * 0.5, 0, 1)
    better = comparison.compare(metric="roc_auc", y=y, champion=champion, challenger=challenger, min_improvement=0.01)
    assert better["beats_champion"] and better["interval"]["low"] > 0.01 and better["improvement"] > 0
    same = comparison.compare(metric="roc_auc", y=y, champion=champion, challenger=champion.copy())
    assert same["interval"]["low"] <= 0 <= same["interval"]["high"] and not same["beats_champion"]
    errors = comparison.compare(metric="rmse", y=y, champion=champion, challenger=challenger)
    assert errors["improvement"] == pytest.approx(errors["champion_value"] - errors["challenger_value"])


def test_calibration_and_histograms_are_shares():
    y = np.array([0, 0, 1, 1], dtype=float)
    result = comparison.compare(metric="accuracy", y=y, champion=np.array([0.1, 0.6, 0.7, 0.9]),
                                challenger=np.array([0.1, 0.2, 0.8, 0.9]), replicates=50)
    assert result["challenger_value"] == 1.0 and result["champion_value"] == 0.75
    assert sum(result["histograms"]["champion"]) == pytest.approx(1.0, abs=1e-4)
    assert sum(b["rows"] for b in result["calibration"]["challenger"]) == 4


def _chunks(n, size, *arrays):
    for lo in range(0, n, size):
        yield [a[lo:lo + size] for a in arrays]


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "f1", "rmse", "mae"])
def test_the_streamed_comparison_over_chunks_answers_the_whole_arrays_and_holds_a_bounded_sample(metric):
    rng = np.random.default_rng(2)
    n = 30_000
    y = (rng.random(n) < 0.3).astype(float)
    y[rng.random(n) < 0.1] = np.nan  # unlabelled rows: histograms only
    champion = np.clip(np.nan_to_num(y) * 0.2 + rng.random(n) * 0.8, 0, 1)
    challenger = np.clip(np.nan_to_num(y) * 0.4 + rng.random(n) * 0.6, 0, 1)
    stream = comparison.ComparisonStream(metric, low=0.0, high=1.0, with_champion=True, max_rows=5_000)
    for part in _chunks(n, 4_000, y, champion, challenger):
        stream.add(*part)
        assert stream.sample.rows.shape[1] <= 5_000
    streamed = stream.result(replicates=100)
    labelled = ~np.isnan(y)
    exact = comparison.compare(metric=metric, y=y[labelled], champion=champion[labelled],
                               challenger=challenger[labelled], replicates=100)
    assert streamed["rows"] == labelled.sum() and stream.rows == n and stream.sample.seen == labelled.sum()
    error = (streamed.get("metric_bin_error") or {}).get("challenger", 0.0)
    assert error < 1e-4 and (error > 0) == (metric == "roc_auc")  # only AUC is binned, and only above the sample
    assert streamed["challenger_value"] == pytest.approx(exact["challenger_value"], abs=max(error, 1e-12))
    assert streamed["champion_value"] == pytest.approx(exact["champion_value"], abs=max(error, 1e-12) * 2)
    assert streamed["beats_champion"] and exact["beats_champion"]  # the challenger is better on every metric
    assert streamed["interval"]["rows"] == 5_000 and streamed["interval"]["low"] > 0
    shares = comparison.compare(metric=metric, y=np.zeros(n), champion=champion, challenger=challenger)["histograms"]
    assert streamed["histograms"]["challenger"] == pytest.approx(shares["challenger"], abs=1e-6)


@pytest.mark.django_db
def test_replay_compares_both_models_with_the_champions_reference_profile(challenger, contributor):
    from monitoring.drift.psi import psi_from_shares, shares
    from monitoring.reference import reference_profile_create
    from tests.monitoring.drift_support import csv_bytes
    from tests.monitoring.drift_support import customers as reference_customers

    from registry.models import ModelVersion

    champion = ModelVersion.objects.get(model=challenger.model, stage="production")
    profile = reference_profile_create(version=champion, actor=contributor,
                                       data=csv_bytes(reference_customers(2000)), filename="ref.csv")
    since, until = _window()
    job = replay_job_create(actor=contributor, model=challenger.model, version=challenger.version, since=since,
                            until=until, enqueue=False)
    job = replay_job_run(job.pk)
    assert job.status == "succeeded", job.error
    reference = job.result["reference"]
    score = profile.profile["score"]
    data = replay_scores(job)
    for name in ("champion", "challenger"):
        expected = psi_from_shares(np.asarray(score["shares"]), shares(data[name].astype(float), np.asarray(score["edges"])))
        assert reference["score_psi"][name] == pytest.approx(expected, abs=1e-9)
    assert reference["version"] == champion.version
    assert reference["score_psi"]["challenger"] > reference["score_psi"]["champion"]  # the flipped model's scores moved
    assert reference["metric"] == profile.profile["metrics"]["roc_auc"]
    assert reference["champion_value_change"] == pytest.approx(job.result["champion_value"] - reference["metric"])


@pytest.mark.django_db
def test_a_number_column_holding_text_is_read_as_numbers_with_nan(traffic):
    from retraining.log_reader import Window, read_chunk

    row = PredictionLog.objects.filter(model_name="churn-predictor").order_by("ts", "id").first()
    row.features = {**row.features, "tenure_months": "n/a"}
    row.save(update_fields=["features"])
    since, until = _window()
    chunk = read_chunk(Window("churn-predictor", since, until), FEATURES, after=None, limit=5, numeric=[True, True, True])
    assert chunk.ids[0] == row.pk and np.isnan(chunk.columns["tenure_months"].iloc[0])
    assert chunk.columns["tenure_months"].iloc[1] == PredictionLog.objects.get(pk=chunk.ids[1]).features["tenure_months"]
