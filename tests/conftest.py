"""Fixtures shared by every test: users with roles, API clients that authenticate with
real bearer tokens, and small builders for models and versions."""

import pytest
from django.db import connection
from rest_framework.test import APIClient

from control_plane.tokens import token_create
from control_plane.users import user_create
from registry import services

PASSWORD = "correct-horse-battery"


@pytest.fixture(autouse=True)
def request_ids_of_this_test(settings):
    """Client request ids are remembered in Redis (serving, 409 on reuse): each test has its own."""
    import uuid

    settings.PREDICT_REQUEST_ID_PREFIX = f"predict-request-id-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Transactional tests flush with TRUNCATE, which the journal refuses except in a test_*
    database whose sessions set control_plane.allow_truncate (migration 0003 of control_plane)."""
    with django_db_blocker.unblock():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE {connection.ops.quote_name(connection.settings_dict['NAME'])} "
                               "SET control_plane.allow_truncate = 'on'")
            connection.close()  # the next session starts with the setting

SCHEMA = [
    {"name": "tenure_months", "type": "double", "nullable": False},
    {"name": "plan", "type": "string", "nullable": False},
    {"name": "monthly_spend", "type": "double", "nullable": True},
]


def make_user(username: str, role: str):
    user, _ = user_create(username=username, role=role, password=PASSWORD)
    return user


@pytest.fixture
def viewer(db):
    return make_user("vera-viewer", "viewer")


@pytest.fixture
def contributor(db):
    return make_user("carl-contributor", "contributor")


@pytest.fixture
def approver(db):
    return make_user("alice-approver", "approver")


@pytest.fixture
def approver2(db):
    return make_user("bob-approver", "approver")


@pytest.fixture
def admin(db):
    return make_user("ada-admin", "admin")


@pytest.fixture
def api():
    """api(user, read_only=False) -> an APIClient sending `Authorization: Bearer <token>`."""

    def client_for(user, *, read_only: bool = False, **token_options) -> APIClient:
        issued = token_create(actor=user, owner=user, name="test", read_only=read_only, **token_options)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
        client.token = issued.secret
        return client

    return client_for


@pytest.fixture
def registered_model(contributor):
    return services.model_create(actor=contributor, name="churn-predictor", description="Predicts churn.")


def register_version(actor, model_name="churn-predictor", schema=SCHEMA, **extra):
    return services.version_register(
        actor=actor,
        model_name=model_name,
        source=extra.pop("source", "runs:/0123456789abcdef/model"),
        run_id=extra.pop("run_id", "0123456789abcdef"),
        metrics=extra.pop("metrics", {"auc": 0.91}),
        input_schema=schema,
        **extra,
    )


def staged_version(actor, model_name="churn-predictor", **extra):
    """A version registered and moved to Staging."""
    mv = register_version(actor, model_name, **extra)
    return services.version_set_stage(actor=actor, model_name=model_name, version=mv.version, stage="staging")


def promote(contributor, approver, model_name="churn-predictor", **extra):
    """Register, stage, request and approve: a version in Production through the real path."""
    mv = staged_version(contributor, model_name, **extra)
    request = services.promotion_request(actor=contributor, model_name=model_name, version=mv.version)
    services.promotion_approve(actor=approver, request_id=request.pk, comment="ok")
    mv.refresh_from_db()
    return mv


@pytest.fixture
def lean_paths(monkeypatch):
    """The paths the lean handler answered."""
    from control_plane.wsgi import application

    seen, answer = [], application.serving.get_response

    def spy(request):
        seen.append(request.path)
        return answer(request)

    monkeypatch.setattr(application.serving, "get_response", spy)
    return seen
