from tests.conftest import SCHEMA


def test_register_stage_request_approve_over_the_api(api, contributor, approver):
    c, a = api(contributor), api(approver)
    assert c.post("/api/v1/models/", {"name": "churn-predictor"}, format="json").status_code == 201
    r = c.post(
        "/api/v1/models/churn-predictor/versions/",
        {"source": "runs:/abc/model", "input_schema": SCHEMA, "metrics": {"auc": 0.9}},
        format="json",
    )
    assert r.status_code == 201, r.json()
    assert r.json()["version"] == 1 and r.json()["stage"] == "none"
    r = c.post("/api/v1/models/churn-predictor/versions/1/stage/", {"stage": "staging"}, format="json")
    assert r.status_code == 200, r.json()
    r = c.post("/api/v1/promotions/", {"model": "churn-predictor", "version": 1}, format="json")
    assert r.status_code == 201, r.json()
    body = r.json()
    assert body["status"] == "pending"
    statuses = {c["name"]: c["status"] for c in body["gate"]["checks"]}
    assert statuses["registered"] == "pass" and statuses["serving_schema"] == "pass"
    assert statuses["rollback_path_tested"] == "not_available"
    r = a.post(f"/api/v1/promotions/{body['id']}/approve/", {"comment": "lgtm"}, format="json")
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "approved"
    assert c.get("/api/v1/models/churn-predictor/").json()["production_version"] == 1
