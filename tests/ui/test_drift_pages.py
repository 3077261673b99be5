"""The drift dashboard and report pages through Django's test client: what they list, the
chart data they embed, the empty states, escaping, and who may press "Run now".

Reports here are built with the real kernel (profile_build + drift_compare) and stored
directly, so the pages read exactly the shapes a drift run stores."""

import json
import re
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from monitoring.dashboard import severity_rule_parts, severity_rule_text
from monitoring.drift.compare import drift_compare
from monitoring.drift.profile import profile_build
from monitoring.models import DriftReport, MonitorPolicy, ReferenceProfile
from monitoring.policies import monitor_policy_update
from monitoring.reference import json_safe
from tests.conftest import PASSWORD, promote

MODEL = "churn-predictor"
KINDS = {"tenure_months": "numeric", "plan": "categorical", "monthly_spend": "numeric"}
XSS_FEATURE = '</script><script>alert("drift")</script>'


def _columns(n: int, seed: int, shift: float = 0.0, extra: str | None = None) -> dict:
    rng = np.random.default_rng(seed)
    plans = rng.choice(["basic", "pro", "team"], n, p=[0.5 - shift / 4, 0.35, 0.15 + shift / 4])
    columns = {
        "tenure_months": rng.uniform(0, 60, n) + 20 * shift,
        "plan": plans.astype(object),
        "monthly_spend": rng.gamma(4.0, 15.0, n),
    }
    if extra:
        columns[extra] = rng.normal(shift, 1.0, n)
    return columns


def _scores(columns: dict) -> np.ndarray:
    return 1 / (1 + np.exp(0.08 * columns["tenure_months"] - 1.5))


def _kinds(extra: str | None = None) -> dict:
    return {**KINDS, extra: "numeric"} if extra else KINDS


def make_reference(version, *, extra: str | None = None) -> ReferenceProfile:
    columns = _columns(3000, seed=1, extra=extra)
    scores = _scores(columns)
    labels = (np.random.default_rng(2).random(3000) < scores).astype(float)
    profile = profile_build(columns, _kinds(extra), scores=scores, labels=labels, task="classifier")
    return ReferenceProfile.objects.create(
        version=version,
        profile=json_safe(profile),
        n_rows=3000,
        source="upload:reference.csv",
        task="classifier",
        positive_label="1",
        label_column="label",
    )


def make_report(reference: ReferenceProfile, *, day: int, shift: float, extra: str | None = None) -> DriftReport:
    """A succeeded report for the day `day` days before today, stored as a run stores it."""
    version = reference.version
    columns = _columns(400, seed=10 + day, shift=shift, extra=extra)
    compared = json_safe(drift_compare(reference.profile, columns, scores=_scores(columns)))
    end = timezone.now().replace(microsecond=0) - timedelta(days=day)
    return DriftReport.objects.create(
        model=version.model,
        version=version,
        status="succeeded",
        severity=compared["severity"],
        window_start=end - timedelta(days=1),
        window_end=end,
        sample_size=400,
        features=compared["features"],
        prediction=compared["prediction"],
        performance={
            "reference": {"accuracy": 0.8, "roc_auc": 0.86, "f1": 0.7},
            "realised": {"accuracy": 0.8 - shift / 10, "roc_auc": 0.85, "f1": 0.69},
            "estimated": {"accuracy": 0.79 - shift / 20},
            "labelled_rows": 120,
            "judged_on": "realised",
            "below_floor": ["accuracy"] if shift > 0.5 else [],
        },
        drifted_features=compared["drifted_features"],
        trigger="schedule",
        finished_at=end,
    )


def chart_data(body: str) -> dict:
    match = re.search(r'<script id="drift-data" type="application/json">(.*?)</script>', body, re.DOTALL)
    assert match, "no json_script block"
    return json.loads(match.group(1))


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def production(contributor, approver, registered_model):
    return promote(contributor, approver)


@pytest.fixture
def reports(production, contributor):
    """A reference and three daily reports, drift growing: oldest first."""
    reference = make_reference(production)
    monitor_policy_update(model=production.model, actor=contributor, key_features=["monthly_spend"])
    return [make_report(reference, day=day, shift=shift) for day, shift in ((2, 0.0), (1, 0.4), (0, 1.0))]


def dashboard_url(name: str = MODEL) -> str:
    return reverse("drift-dashboard", args=[name])


# --- The dashboard ----------------------------------------------------------------------


def test_dashboard_lists_reports_and_embeds_chart_data(client, viewer, reports):
    client.force_login(viewer)
    response = client.get(dashboard_url())
    assert response.status_code == 200
    body = response.content.decode()
    for chart in ("chart-score", "chart-psi", "chart-feature", "chart-psi-time", "chart-performance"):
        assert f'id="{chart}"' in body, chart
    assert "/static/vendor/plotly.min.js" in body and "/static/js/drift_dashboard.js" in body
    assert "cdn" not in body.lower()
    for report in reports:
        assert reverse("drift-report", args=[MODEL, report.pk]) in body
    table = body[body.index('id="drift-reports"') :]
    assert table.count("<tr>") == 1 + len(reports)  # heading + one row per report

    data = chart_data(body)
    latest = reports[-1]
    assert data["report"]["id"] == latest.pk
    assert data["thresholds"] == {"psi_moderate": 0.1, "psi_major": 0.25}
    bars = data["report"]["features"]
    assert sorted(b["feature"] for b in bars) == sorted(KINDS)
    by_name = {f["feature"]: f["psi"] for f in latest.features}
    assert [b["psi"] for b in bars] == sorted(by_name.values(), reverse=True)  # largest first
    assert all(b["psi"] == by_name[b["feature"]] for b in bars)
    plan = next(b for b in bars if b["feature"] == "plan")
    assert plan["histogram"]["kind"] == "categorical"
    assert set(plan["histogram"]["labels"]) >= {"basic", "pro", "team"}
    tenure = next(b for b in bars if b["feature"] == "tenure_months")
    hist = next(f["histogram"] for f in latest.features if f["feature"] == "tenure_months")
    assert len(tenure["histogram"]["labels"]) == len(hist["reference"]) == len(hist["edges"]) + 1
    assert tenure["histogram"]["labels"][0].startswith("≤ ") and tenure["histogram"]["labels"][-1].startswith("> ")
    assert data["report"]["prediction"]["histogram"]["reference"] == latest.prediction["histogram"]["reference"]

    history = data["history"]
    assert history["report_ids"] == [r.pk for r in reports]  # oldest first
    assert history["psi"][0]["feature"] == "monthly_spend"  # the key feature leads
    assert history["psi"][0]["key"] and not history["psi"][1]["key"]
    tenure_line = next(s for s in history["psi"] if s["feature"] == "tenure_months")
    assert tenure_line["psi"] == [
        next(f["psi"] for f in r.features if f["feature"] == "tenure_months") for r in reports
    ]
    performance = history["performance"]
    assert performance["metric"] == "accuracy" and performance["reference"] == 0.8
    assert performance["realised"] == pytest.approx([0.8, 0.76, 0.7])
    assert performance["floor"] == pytest.approx(0.75)  # reference - accuracy_drop (0.05)
    assert history["report_urls"][0] == reverse("drift-report", args=[MODEL, reports[0].pk])

    assert 'id="run-now-form"' not in body  # a viewer cannot run
    assert 'id="policy-summary"' in body and "0 3 * * *" in body
    assert 'id="schedule-admin-link"' not in body  # the admin is for staff


def test_policy_summary_links_admin_to_the_periodic_task(client, admin, reports):
    client.force_login(admin)
    body = client.get(dashboard_url()).content.decode()
    task_id = reports[0].model.monitor_policy.periodic_task_id
    assert task_id
    assert f'href="/admin/django_celery_beat/periodictask/{task_id}/change/"' in body
    assert 'id="run-now-form"' in body


def test_model_page_links_to_the_dashboard(client, viewer, production):
    client.force_login(viewer)
    body = client.get(reverse("model-detail", args=[MODEL])).content.decode()
    assert f'href="{dashboard_url()}"' in body


def test_empty_state_without_reference_or_reports(client, viewer, production):
    client.force_login(viewer)
    response = client.get(dashboard_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="empty-no-reference"' in body
    assert f"/api/v1/models/{MODEL}/versions/{production.version}/reference/" in body
    assert 'id="empty-no-reports"' in body
    assert 'id="chart-psi"' not in body and "plotly.min.js" not in body
    assert 'id="policy-defaults"' in body  # nobody set up monitoring: the defaults are shown...
    assert not MonitorPolicy.objects.exists()  # ...and not saved by a page view
    assert chart_data(body)["report"] is None


def test_empty_state_with_reference_but_no_report(client, contributor, production):
    make_reference(production)
    client.force_login(contributor)
    body = client.get(dashboard_url()).content.decode()
    assert 'id="empty-no-reference"' not in body and 'id="reference-rows"' in body
    assert 'id="empty-no-reports"' in body and "Run now" in body
    assert "No report yet." in body


def test_empty_state_without_production_version(client, viewer, registered_model):
    client.force_login(viewer)
    body = client.get(dashboard_url()).content.decode()
    assert 'id="empty-no-version"' in body


def test_access_rules(client, viewer, reports):
    report_url = reverse("drift-report", args=[MODEL, reports[0].pk])
    for url in (dashboard_url(), report_url):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    from django.contrib.auth.models import User

    User.objects.create_user("nobody", password=PASSWORD)
    client.login(username="nobody", password=PASSWORD)
    assert client.get(dashboard_url()).status_code == 403
    client.force_login(viewer)
    assert client.get(dashboard_url("no-such-model")).status_code == 404
    assert client.get(reverse("drift-report", args=[MODEL, 999999])).status_code == 404
    assert client.get(reverse("drift-run", args=[MODEL])).status_code == 405


# --- The report page --------------------------------------------------------------------


def test_report_page_shows_every_statistic_and_the_rule(client, viewer, reports):
    client.force_login(viewer)
    report = reports[-1]
    response = client.get(reverse("drift-report", args=[MODEL, report.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    for heading in (
        "PSI",
        "KS stat",
        "KS p-value",
        "JS distance",
        "Wasserstein / std",
        "χ² stat",
        "χ² p-value",
        "Null share",
    ):
        assert f'<th class="num">{heading}</th>' in body, heading
    table = body[body.index('id="report-features"') : body.index('id="report-performance"')]
    for row in report.features:
        assert f"<td>{row['feature']}</td>" in table
        assert f'<span class="badge severity-{row["severity"]}">' in table
    tenure = next(f for f in report.features if f["feature"] == "tenure_months")
    assert f'<td class="num">{tenure["psi"]:.4f}</td>' in table
    assert f'<td class="num">{tenure["ks_pvalue"]:.4f}</td>' in table
    plan = next(f for f in report.features if f["feature"] == "plan")
    assert plan["chi2_pvalue"] < 5e-5  # shifted: shown in scientific notation, not rounded to 0
    assert f'<td class="num">{plan["chi2_pvalue"]:.2e}</td>' in table
    assert 'id="report-prediction"' in table
    # The rule reads as paragraphs and a list of steps, every word of it on the page.
    parts = severity_rule_parts(severity_rule_text())
    assert len(parts["steps"]) == 3 and parts["notes"]
    for text in [*parts["intro"], *(s["text"] for s in parts["steps"]), *parts["notes"]]:
        assert escape(text) in body, text[:60]
    assert '<ol class="rule" id="severity-steps">' in body
    assert 'id="severity-rule"' in body
    assert "psi_major=0.25" in body
    assert "below floor" in body  # accuracy fell by 0.1, the floor is 0.05
    assert chart_data(body)["report"]["id"] == report.pk


def test_report_of_another_model_is_404(client, viewer, contributor, reports):
    from registry import services

    services.model_create(actor=contributor, name="other-model")
    client.force_login(viewer)
    assert client.get(reverse("drift-report", args=["other-model", reports[0].pk])).status_code == 404


def test_failed_report_page_shows_the_error(client, viewer, production):
    now = timezone.now()
    report = DriftReport.objects.create(
        model=production.model,
        version=production,
        status="failed",
        window_start=now - timedelta(days=1),
        window_end=now,
        error="No prediction was logged: nothing to compare.",
    )
    client.force_login(viewer)
    body = client.get(reverse("drift-report", args=[MODEL, report.pk])).content.decode()
    assert 'id="report-error"' in body and "nothing to compare" in body
    assert chart_data(body)["report"] is None and "plotly.min.js" not in body


# --- Escaping ---------------------------------------------------------------------------


def test_feature_names_are_escaped_in_the_script_block_and_tables(client, viewer, production):
    reference = make_reference(production, extra=XSS_FEATURE)
    report = make_report(reference, day=0, shift=1.0, extra=XSS_FEATURE)
    assert any(f["feature"] == XSS_FEATURE for f in report.features)
    client.force_login(viewer)
    for url in (dashboard_url(), reverse("drift-report", args=[MODEL, report.pk])):
        body = client.get(url).content.decode()
        assert '<script>alert("drift")' not in body, url
        assert "</script><script>" not in body, url
        data = chart_data(body)  # json_script escapes <, > and &: the name survives intact
        assert XSS_FEATURE in [f["feature"] for f in data["report"]["features"]], url
        assert "\\u003C/script\\u003E" in body, url
    assert escape(XSS_FEATURE) in body  # the report table shows it as text


# --- Run now ----------------------------------------------------------------------------


def test_viewer_cannot_run_now(client, viewer, production):
    make_reference(production)
    client.force_login(viewer)
    response = client.post(reverse("drift-run", args=[MODEL]))
    assert response.status_code == 403
    assert any("cannot change drift monitoring or start drift runs" in m for m in _messages(response))
    assert not DriftReport.objects.exists()


def test_run_now_creates_a_report_for_a_contributor(
    client, contributor, production, django_capture_on_commit_callbacks
):
    make_reference(production)
    client.force_login(contributor)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("drift-run", args=[MODEL]))
    assert response.status_code == 302 and response["Location"] == dashboard_url()
    report = DriftReport.objects.get()
    assert report.requested_by == contributor and report.trigger == "manual" and report.version == production
    assert report.window_end - report.window_start == timedelta(hours=24)
    # The task ran (eagerly, on commit): no traffic was logged, so the report failed and says why.
    assert report.status == "failed" and report.error
    body = client.get(dashboard_url()).content.decode()
    assert f"Drift report #{report.pk} started" in body
    assert reverse("drift-report", args=[MODEL, report.pk]) in body


def test_run_now_without_reference_is_refused_with_the_reason(client, contributor, production):
    client.force_login(contributor)
    response = client.post(reverse("drift-run", args=[MODEL]))
    assert response.status_code == 422
    assert "has no reference profile" in response.content.decode()
    assert not DriftReport.objects.exists()
