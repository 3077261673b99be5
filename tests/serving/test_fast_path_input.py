"""The data plane's own handler refuses what it cannot parse or log (a NUL would poison
the prediction log's jsonb; deep JSON would exhaust the parser's stack), while NaN still
reaches the serving-schema check, which names the feature."""

import json

import pytest

from tests.wsgi_call import wsgi

from .conftest import ROW

pytestmark = pytest.mark.django_db
PREDICT = "/api/v1/serve/churn-predictor/predict"


@pytest.fixture
def auth(served, viewer):
    from control_plane.tokens import token_create

    return {"Authorization": f"Bearer {token_create(actor=viewer, owner=viewer, name='t').secret}"}


def test_nul_in_a_feature_is_named_on_the_fast_path(auth, lean_paths):
    body = json.dumps({"instances": [{**ROW, "plan": "a\u0000"}]}).encode()
    status, headers, content = wsgi("POST", PREDICT, body, **auth)
    assert status.startswith("422"), content
    assert json.loads(content)["error"]["details"] == {"instances[0].plan": ["'instances[0].plan' contains a NUL character."]}
    assert lean_paths == [PREDICT]


def test_deep_json_is_refused_on_the_fast_path(auth, lean_paths):
    body = ('{"instances": ' + "[" * 1000 + "]" * 1000 + "}").encode()
    status, _, content = wsgi("POST", PREDICT, body, **auth)
    assert status.startswith("400"), content
    assert json.loads(content)["error"]["code"] == "malformed_request"


def test_nan_still_reaches_the_schema_check(auth):
    body = b'{"instances": [{"tenure_months": NaN, "monthly_spend": 50.0, "support_tickets": 1}]}'
    status, _, content = wsgi("POST", PREDICT, body, **auth)
    assert status.startswith("422"), content
    assert json.loads(content)["error"]["code"] == "schema_violation"
