"""The drift dashboard in a real browser: the demo's real path seeds a reference and three
daily reports (real model, real kernel), then each chart must have been drawn by Plotly
with the expected traces and bars, the PSI bars coloured by the policy's thresholds, and a
click on a bar must draw that feature's histogram."""

import pytest
from playwright.sync_api import expect

from control_plane.demo_drift import KEY_FEATURES, seed_drift_demo
from control_plane.demo_models import save_churn_model
from control_plane.management.commands.seed_demo import SCHEMA
from monitoring.models import DriftReport
from monitoring.policies import monitor_policy_update
from registry import model_loading
from tests.conftest import promote

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MODEL = "churn-predictor"
DAYS = 3
CHARTS = ("chart-score", "chart-psi", "chart-feature", "chart-psi-time", "chart-performance")
# The dashboard's colours, written out here on purpose: the test states the rule itself.
GREEN, AMBER, RED = "#2e7d32", "#f9a825", "#c62828"
SCREENSHOT = "/tmp/ui-drift-dashboard.png"
REPORT_SCREENSHOT = "/tmp/ui-drift-report.png"


def expected_colour(psi: float, moderate: float, major: float) -> str:
    return GREEN if psi < moderate else AMBER if psi < major else RED


def rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def churn_model_source(tmp_path_factory):
    return save_churn_model(tmp_path_factory.mktemp("drift-e2e") / "churn", seed=2, depth=4)


@pytest.fixture
def seeded(settings, tmp_path, churn_model_source, contributor, approver, registered_model):
    """churn-predictor in Production (the demo's model and schema), with the demo's
    reference, traffic and one report per day for DAYS days."""
    settings.VAR_DIR = tmp_path / "var"
    model_loading.cache_clear()
    version = promote(contributor, approver, source=churn_model_source, schema=SCHEMA)
    reports = seed_drift_demo(actor=contributor, days=DAYS)
    assert [r.status for r in reports] == ["succeeded"] * DAYS, [r.error for r in reports]
    yield version, reports
    model_loading.cache_clear()


def chart(page, chart_id: str) -> dict:
    """What Plotly drew in one chart: trace names, types, point counts, colours, title."""
    return page.evaluate(
        """(id) => {
            const el = document.getElementById(id);
            return {
                traces: el._fullData.map((t) => ({
                    name: t.name, type: t.type, x: Array.from(t.x || []), y: Array.from(t.y || []),
                    colour: t.marker ? t.marker.color : null, dash: t.line ? t.line.dash : null,
                })),
                title: el._fullLayout.title ? el._fullLayout.title.text : "",
                barTraces: el.querySelectorAll(".barlayer .trace").length,
                bars: el.querySelectorAll(".barlayer .point").length,
                lines: el.querySelectorAll(".scatterlayer .trace").length,
                barFills: Array.from(el.querySelectorAll(".barlayer .point path")).map((p) => p.style.fill),
            };
        }""",
        chart_id,
    )


def wait_for_charts(page):
    page.wait_for_function(
        """(ids) => ids.every((id) => {
            const el = document.getElementById(id);
            return el && el._fullData && el._fullData.length > 0 && el.querySelector(".main-svg");
        })""",
        arg=list(CHARTS),
    )


def test_dashboard_draws_every_chart_and_the_clicked_histogram(page, login, viewer, contributor, seeded):
    _, reports = seeded
    latest = DriftReport.objects.get(pk=reports[-1].pk)
    policy = latest.model.monitor_policy
    moderate, major = policy.thresholds["psi_moderate"], policy.thresholds["psi_major"]

    login(viewer)
    page.goto(f"/models/{MODEL}/")
    page.get_by_role("link", name="Monitoring: drift").click()
    page.wait_for_url(f"**/models/{MODEL}/monitoring/")
    wait_for_charts(page)
    page.screenshot(path=SCREENSHOT, full_page=True)

    # Score histogram: reference against the latest window, one bar per bin each.
    score = chart(page, "chart-score")
    bins = len(latest.prediction["histogram"]["reference"])
    assert [t["name"] for t in score["traces"]] == ["reference", "current"]
    assert score["barTraces"] == 2 and score["bars"] == 2 * bins
    assert score["traces"][1]["y"] == pytest.approx(latest.prediction["histogram"]["current"])

    # PSI per feature: one bar per feature, largest first, coloured by the policy's thresholds.
    psi = chart(page, "chart-psi")
    features = sorted(latest.features, key=lambda f: -f["psi"])
    assert len(psi["traces"]) == 1 and psi["bars"] == len(features) == len(SCHEMA)
    assert psi["traces"][0]["y"] == pytest.approx([f["psi"] for f in features])
    colours = [expected_colour(f["psi"], moderate, major) for f in features]
    assert set(colours) == {GREEN, AMBER, RED}, "the demo's last day should show all three bands"
    assert psi["traces"][0]["colour"] == colours
    assert psi["barFills"] == [rgb(c) for c in colours]  # and that is what the SVG paints

    # PSI over time: one line per feature over the DAYS reports, key features first.
    over_time = chart(page, "chart-psi-time")
    assert over_time["lines"] == len(over_time["traces"]) == len(SCHEMA)
    assert [t["name"] for t in over_time["traces"][:2]] == [f"{name} ★" for name in KEY_FEATURES]
    assert all(len(t["y"]) == DAYS for t in over_time["traces"])

    # Performance: realised and estimated accuracy per report, the reference dashed.
    performance = chart(page, "chart-performance")
    names = [t["name"] for t in performance["traces"]]
    assert names[:3] == ["realised accuracy", "estimated accuracy", "reference"]
    assert len(performance["traces"][0]["y"]) == DAYS
    reference = next(t for t in performance["traces"] if t["name"] == "reference")
    assert reference["dash"] == "dash"
    assert reference["y"][0] == pytest.approx(latest.performance["reference"]["accuracy"])

    # The feature histogram starts on the largest PSI; a click on another bar redraws it.
    feature = page.locator("#chart-feature")
    expect(feature).to_have_attribute("data-feature", features[0]["feature"])
    target = next(i for i, f in enumerate(features) if f["feature"] == "plan")
    assert features[target]["psi"] > moderate  # a bar tall enough to click
    box = page.locator("#chart-psi .barlayer .point").nth(target).bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(feature).to_have_attribute("data-feature", "plan")
    page.wait_for_function("() => document.getElementById('chart-feature')._fullLayout.title.text.startsWith('plan')")
    drawn = chart(page, "chart-feature")
    histogram = next(f["histogram"] for f in latest.features if f["feature"] == "plan")
    assert drawn["title"] == "plan: reference vs current"
    assert [t["name"] for t in drawn["traces"]] == ["reference", "current"]
    assert drawn["traces"][0]["x"] == histogram["categories"]  # categoricals: one bar per category
    assert drawn["bars"] == 2 * len(histogram["categories"])
    assert drawn["traces"][1]["y"] == pytest.approx(histogram["current"])
    expect(page.locator("#feature-select")).to_have_value(str(target))

    # The report list links each report.
    rows = page.locator("#drift-reports tbody tr")
    expect(rows).to_have_count(DAYS)
    expect(rows.first).to_contain_text(latest.severity)

    # The colours follow the model's own thresholds: put them between the bars and reload.
    values = [f["psi"] for f in features]
    moderate, major = (values[2] + values[3]) / 2, (values[0] + values[1]) / 2
    monitor_policy_update(
        model=latest.model, actor=contributor, thresholds={"psi_moderate": moderate, "psi_major": major}
    )
    page.reload()
    wait_for_charts(page)
    recoloured = chart(page, "chart-psi")
    assert recoloured["traces"][0]["colour"] == [RED, AMBER, AMBER, GREEN, GREEN][: len(values)]
    assert recoloured["barFills"] == [rgb(c) for c in recoloured["traces"][0]["colour"]]


def test_report_page_from_the_list(page, login, viewer, seeded):
    _, reports = seeded
    latest = DriftReport.objects.get(pk=reports[-1].pk)
    login(viewer)
    page.goto(f"/models/{MODEL}/monitoring/")
    page.locator("#drift-reports").get_by_role("link", name=f"#{latest.pk}").click()
    page.wait_for_url(f"**/models/{MODEL}/monitoring/reports/{latest.pk}/")
    expect(page.locator("#report-severity")).to_have_text(latest.severity)
    expect(page.locator("#report-features tbody tr")).to_have_count(len(SCHEMA) + 1)  # features and the score
    expect(page.locator("#severity-rule")).to_be_visible()
    # The rule reads as a list of steps, not a wrapped docstring; its explanations fold away.
    expect(page.locator("#severity-steps > li")).to_have_count(3)
    expect(page.locator("#severity-steps > li").first).to_contain_text("Distances decide first.")
    expect(page.locator("#severity-steps > li").first.locator("ul > li")).to_have_count(3)
    page.wait_for_function("() => { const el = document.getElementById('chart-psi'); return el && el._fullData; }")
    assert chart(page, "chart-psi")["bars"] == len(SCHEMA)
    # The threshold lines are labelled, and a legend says what the colours and the ★ mean.
    policy = latest.model.monitor_policy
    labels = page.evaluate(
        "() => document.getElementById('chart-psi')._fullLayout.annotations.map((a) => a.text)"
    )
    assert labels == [f"moderate ≥ {policy.thresholds['psi_moderate']}", f"major ≥ {policy.thresholds['psi_major']}"]
    legend = page.locator("#chart-psi-legend")
    expect(legend).to_contain_text("★ key feature")
    expect(legend).to_contain_text(f"major (PSI ≥ {policy.thresholds['psi_major']})")
    # Selecting a numeric feature draws its bins: inner edges plus the two open outer bins.
    select = page.locator("#feature-select")
    index = select.locator("option", has_text="last_login_days").get_attribute("value")
    select.select_option(index)
    expect(page.locator("#chart-feature")).to_have_attribute("data-feature", "last_login_days")
    edges = next(f["histogram"]["edges"] for f in latest.features if f["feature"] == "last_login_days")
    assert chart(page, "chart-feature")["bars"] == 2 * (len(edges) + 1)
    page.screenshot(path=REPORT_SCREENSHOT, full_page=True)
