"""Settings, read from the environment only (see .env.example for every variable).

With no DATABASE_URL and no REDIS_URL the project runs embedded: a local SQLite
file and Celery on kombu's filesystem transport, so one command shows it working.
"""

import os
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CONTROL_PLANE_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Keys published in this repository (the default and .env.example's placeholder). With DEBUG
# off, running with one of them is a system check error (control_plane/checks.py): the
# server refuses to start. `make run` writes a random key into var/ instead.
PUBLISHED_SECRET_KEYS = ("insecure-dev-key-change-me-" + "x" * 40, "change-me-to-50-or-more-random-characters")
_DEMO_KEY_FILE = VAR_DIR / "secret_key"  # written by `make run`, so the README's manage.py commands share it
SECRET_KEY = (
    env.str("SECRET_KEY", default="")
    or (_DEMO_KEY_FILE.read_text().strip() if _DEMO_KEY_FILE.is_file() else "")
    or PUBLISHED_SECRET_KEYS[0]
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "control_plane.error_pages.csrf_failure"
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "control_plane",
    "registry",
    "monitoring",
    "retraining",
    "notifications",
    "serving",
    "features",
]

MIDDLEWARE = [
    "control_plane.middleware.RequestIdMiddleware",
    "control_plane.middleware.MetricsMiddleware",
    "control_plane.middleware.ApiJsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "control_plane.middleware.BodySizeLimitMiddleware",
    "control_plane.middleware.InputSanityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "control_plane.urls"
WSGI_APPLICATION = "control_plane.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "control_plane.context_processors.roles",
            ],
            "builtins": ["control_plane.templatetags.ui"],
        },
    },
]

# --- Database: PostgreSQL when DATABASE_URL is set, else the embedded SQLite file.
EMBEDDED_DATABASE = not env.str("DATABASE_URL", default="")
if EMBEDDED_DATABASE:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "control_plane.sqlite3",
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
else:
    DATABASES = {"default": env.db("DATABASE_URL")}
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if env.str("TEST_DATABASE_NAME", default=""):
        DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG and env.bool("STATIC_MANIFEST", default=True)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# Request bodies above this answer 413 before anything is parsed.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES
# JSON bodies nested deeper than this answer 400 before any parser recurses into them.
MAX_JSON_DEPTH = env.int("MAX_JSON_DEPTH", default=32)

# --- Security (production values come from the environment; `check --deploy` is clean with them).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=[])

# --- MLflow
# The tracking server the control plane reads runs, logged models and artifacts from.
# Unset: sources are stored as given, without reading MLflow.
MLFLOW_TRACKING_URI = env.str("MLFLOW_TRACKING_URI", default="")
# The alias that always names the Production version; setting it is a promotion request.
PRODUCTION_ALIAS = env.str("PRODUCTION_ALIAS", default="champion")
# How many loaded models one process keeps in memory.
MODEL_CACHE_SIZE = env.int("MODEL_CACHE_SIZE", default=8)
# A request that reads MLflow must not hang on MLflow's default 7 retries of 120 s each.
os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", env.str("MLFLOW_HTTP_REQUEST_MAX_RETRIES", default="2"))
os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", env.str("MLFLOW_HTTP_REQUEST_TIMEOUT", default="20"))

# --- Email and notifications (see README, Notifications)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="ml-control-plane@localhost")
EMAIL_SUBJECT_PREFIX = env.str("EMAIL_SUBJECT_PREFIX", default="[ML control plane] ")
# Notifications name their mail backend apart from EMAIL_BACKEND, which test runners replace.
# The embedded demo has no mail server: unless EMAIL_HOST is given, its mail is written to
# files under var/mail/ (one per message), not printed over the server's log.
NOTIFY_EMAIL_BACKEND = env.str(
    "NOTIFY_EMAIL_BACKEND",
    default="django.core.mail.backends.filebased.EmailBackend"
    if EMBEDDED_DATABASE and not env.str("EMAIL_HOST", default="")
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "mail"))
NOTIFY_HTTP_TIMEOUT = env.float("NOTIFY_HTTP_TIMEOUT", default=10.0)
NOTIFY_MAX_ATTEMPTS = env.int("NOTIFY_MAX_ATTEMPTS", default=6)
NOTIFY_RETRY_BASE_SECONDS = env.float("NOTIFY_RETRY_BASE_SECONDS", default=30.0)
NOTIFY_DISABLE_AFTER = env.int("NOTIFY_DISABLE_AFTER", default=3)
NOTIFY_STALE_SECONDS = env.int("NOTIFY_STALE_SECONDS", default=300)
# Slack and webhook URLs may use http:// (not only https://) when this is set, or to allow-listed hosts.
NOTIFY_ALLOW_HTTP = env.bool("NOTIFY_ALLOW_HTTP", default=False)

# --- Egress (control_plane/egress.py): URLs the server calls on a user's word may reach only
# public addresses, unless named here. Hosts: exact names, or ".example.com" for subdomains.
# Networks: CIDRs, e.g. 127.0.0.0/8,::1/128 for local development.
EGRESS_ALLOWED_HOSTS = env.list("EGRESS_ALLOWED_HOSTS", default=[])
EGRESS_ALLOWED_NETWORKS = env.list("EGRESS_ALLOWED_NETWORKS", default=[])
NOTIFY_APPROVER_EMAILS = env.bool("NOTIFY_APPROVER_EMAILS", default=True)

# --- REST API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "control_plane.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["control_plane.permissions.CanRead"],
    "DEFAULT_PAGINATION_CLASS": "control_plane.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "control_plane.openapi.ApiAutoSchema",
    "EXCEPTION_HANDLER": "control_plane.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "ML control plane API",
    "DESCRIPTION": "Registry of record, approval gates and lifecycle operations for MLflow models.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SECURITY": [{"BearerAuth": []}],
    "APPEND_COMPONENTS": {
        "securitySchemes": {"BearerAuth": {"type": "http", "scheme": "bearer"}},
    },
    # Hand-written parts: the data plane's plain Django views and the MLflow-compatible API.
    "POSTPROCESSING_HOOKS": [
        "serving.openapi.add_serving_paths",
        "registry.openapi_mlflow.add_mlflow_paths",
        "drf_spectacular.hooks.postprocess_schema_enums",
    ],
    # Operations are tagged by control_plane.openapi.TAG_RULES; this is the manual's order.
    "TAGS": [
        {"name": "Models", "description": "Registered models: create, describe, set the approval policy, roll back."},
        {"name": "Versions", "description": "Versions of a model, registered from an MLflow URI, and their stages."},
        {"name": "Promotions", "description": "Requests to put a Staging version in Production: the gate's "
         "evidence and the four-eyes approval."},
        {"name": "Deployments", "description": "Shadow, canary and blue/green rollouts of a challenger."},
        {"name": "Serving", "description": "The data plane: score rows with the live version."},
        {"name": "Predictions", "description": "The prediction log, ground-truth feedback and batch scoring."},
        {"name": "Monitoring", "description": "Reference profiles, drift policies and drift reports."},
        {"name": "Retraining", "description": "Retraining policies, runs and replays."},
        {"name": "Feature store", "description": "Entities, feature views, online and historical features."},
        {"name": "Notifications", "description": "Email, Slack and webhook channels and their deliveries."},
        {"name": "Journal", "description": "Every state change: who, what, when, with the request id."},
        {"name": "Tokens", "description": "API tokens: read-only, serve-only, limited to models, expiring."},
        {"name": "Import", "description": "Copy models and versions from an MLflow registry."},
        {"name": "MLflow-compatible registry", "description": "MLflow's model-registry REST API, so "
         "mlflow.set_registry_uri(<this server>) works; governance holds there too."},
    ],
    "ENUM_NAME_OVERRIDES": {
        "StageEnum": "registry.stages.STAGE_CHOICES",
        "PromotionStatusEnum": "registry.models.PromotionStatus.choices",
        "HistoricalJobStatusEnum": "features.models.HISTORICAL_JOB_STATUSES",
    },
}

# --- Celery: Redis when REDIS_URL is set, else kombu's filesystem transport (embedded).
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    CELERY_BROKER_URL = "filesystem://localhost//"
    _broker_dir = VAR_DIR / "broker"
    _broker_dir.mkdir(parents=True, exist_ok=True)  # kombu's filesystem transport needs it to exist
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "control_folder": str(VAR_DIR / "broker-control"),  # kombu's default is ./control
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="control-plane")
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# In tests that do not run a worker, tasks run inline; the worker test turns this off.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Prediction log (monitoring/prediction_log.py). auto: a Redis stream drained into the
# database when REDIS_URL is set, else direct database writes (embedded).
PREDICTION_LOG_BACKEND = env.str("PREDICTION_LOG_BACKEND", default="auto")
if PREDICTION_LOG_BACKEND not in ("auto", "redis", "direct"):
    raise ImproperlyConfigured("PREDICTION_LOG_BACKEND must be auto, redis or direct.")
if PREDICTION_LOG_BACKEND == "redis" and not REDIS_URL:
    raise ImproperlyConfigured("PREDICTION_LOG_BACKEND=redis needs REDIS_URL.")
PREDICTION_STREAM = env.str("PREDICTION_STREAM", default="predictions")
# Cap on undrained records kept in Redis (drained ones are deleted); past it, records are written
# to the database directly, never trimmed from the stream unseen.
PREDICTION_STREAM_MAXLEN = env.int("PREDICTION_STREAM_MAXLEN", default=1_000_000)
# How often each process reads the stream's length (in the same round trip as its XADD).
PREDICTION_STREAM_LENGTH_CHECK_SECONDS = env.float("PREDICTION_STREAM_LENGTH_CHECK_SECONDS", default=1.0)
# How long a client-supplied predict request_id is remembered (with its body's hash) in Redis:
# reused with another body within it, the request answers 409.
PREDICT_REQUEST_ID_TTL_SECONDS = env.int("PREDICT_REQUEST_ID_TTL_SECONDS", default=86_400)
PREDICT_REQUEST_ID_PREFIX = env.str("PREDICT_REQUEST_ID_PREFIX", default="predict-request-id")
PREDICTION_DRAIN_BATCH = env.int("PREDICTION_DRAIN_BATCH", default=2000)
# After a batch smaller than PREDICTION_DRAIN_BATCH the drain waits this long before reading
# again, so a steady trickle is stored in a few large transactions rather than one per request.
PREDICTION_DRAIN_LINGER_MS = env.int("PREDICTION_DRAIN_LINGER_MS", default=200)
PREDICTION_RETENTION_DAYS = env.int("PREDICTION_RETENTION_DAYS", default=90)

# --- Serving: the most traffic (percent) a challenger answers while its promotion request is
# not approved (a hand-configured canary ends its evaluation there; cutover needs approval).
CHALLENGER_TRAFFIC_CEILING = env.int("CHALLENGER_TRAFFIC_CEILING", default=50)
if not 0 <= CHALLENGER_TRAFFIC_CEILING <= 100:
    raise ImproperlyConfigured("CHALLENGER_TRAFFIC_CEILING must be a percentage from 0 to 100.")

# --- Batch scoring: input paths and uploads live under BATCH_DIR; rows per chunk (one part file each).
BATCH_DIR = Path(env.str("BATCH_DIR", default="") or VAR_DIR / "batch")
BATCH_CHUNK_ROWS = env.int("BATCH_CHUNK_ROWS", default=50_000)

# --- Model sources: the folders a version's local source (a path or file:// URI) may lie in.
# By default the folder where the demo (`make run`) saves its models.
LOCAL_SOURCE_ROOTS = [Path(p) for p in env.list("LOCAL_SOURCE_ROOTS", default=[]) if p] or [VAR_DIR / "demo-models"]

# --- Drift monitoring: the folders a reference profile may be read from by server path.
REFERENCE_DATA_ROOTS = [Path(p) for p in env.list("REFERENCE_DATA_ROOTS", default=[]) if p] or [VAR_DIR / "reference"]

# --- Feature store (docs/features.md)
# Push views' offline tables live in this schema of the control plane's database.
FEATURE_PUSH_SCHEMA = env.str("FEATURE_PUSH_SCHEMA", default="feature_push")
# Table sources on the control plane's own database must be in one of these schemas.
FEATURE_SOURCE_SCHEMAS = env.list("FEATURE_SOURCE_SCHEMAS", default=["feature_data"])
# Other PostgreSQL databases sources may name: "name=postgres://...;other=postgres://...".
FEATURE_SOURCE_DATABASES = dict(
    item.split("=", 1) for item in env.str("FEATURE_SOURCE_DATABASES", default="").split(";") if "=" in item
)
# Query sources (admins only) run READ ONLY under this role when set, and within this time.
FEATURE_QUERY_ROLE = env.str("FEATURE_QUERY_ROLE", default="")
FEATURE_QUERY_TIMEOUT_SECONDS = env.int("FEATURE_QUERY_TIMEOUT_SECONDS", default=600)
# The online store: its own Redis, else the broker's server.
FEATURE_ONLINE_REDIS_URL = env.str("FEATURE_ONLINE_REDIS_URL", default="") or REDIS_URL
FEATURE_ONLINE_PREFIX = env.str("FEATURE_ONLINE_PREFIX", default="fs")
# Entity frames read by server path must be under one of these folders.
FEATURE_DATA_ROOTS = [Path(p) for p in env.list("FEATURE_DATA_ROOTS", default=[]) if p] or [VAR_DIR / "features"]
FEATURE_MATERIALIZE_BATCH = env.int("FEATURE_MATERIALIZE_BATCH", default=10_000)
FEATURE_HISTORICAL_CHUNK_ROWS = env.int("FEATURE_HISTORICAL_CHUNK_ROWS", default=50_000)
# Bigger entity frames (or ?async=true) answer 202 with a job; its files live in FEATURE_HISTORICAL_JOBS_DIR.
FEATURE_HISTORICAL_SYNC_MAX_ROWS = env.int("FEATURE_HISTORICAL_SYNC_MAX_ROWS", default=200_000)
FEATURE_HISTORICAL_JOBS_DIR = Path(env.str("FEATURE_HISTORICAL_JOBS_DIR", default="") or VAR_DIR / "feature-jobs")
# A materialization run whose heartbeat is older than this is resumed by the sweep.
FEATURE_RUN_STALE_SECONDS = env.int("FEATURE_RUN_STALE_SECONDS", default=120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "control_plane.request_context.RequestIdLogFilter"},
        "client_errors_briefly": {"()": "control_plane.request_context.ClientErrorLogFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id", "client_errors_briefly"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
    },
}
# Heartbeats of long jobs (retraining steps, replays, drift reports, batch jobs): a worker
# stamps its job every HEARTBEAT_SECONDS; a job unstamped for HEARTBEAT_STALE_SECONDS is
# taken to have lost its worker and is retried (resumed) or failed by the minute's sweep.
HEARTBEAT_SECONDS = env.float("HEARTBEAT_SECONDS", default=15.0)
HEARTBEAT_STALE_SECONDS = env.int("HEARTBEAT_STALE_SECONDS", default=120)
# Retraining. Python trainers only from these modules (the policy names a function in one).
RETRAINING_TRAINER_MODULES = env.list("RETRAINING_TRAINER_MODULES", default=["retraining.sample_trainer"])
RETRAINING_PROJECT_ROOTS = [Path(p) for p in env.list("RETRAINING_PROJECT_ROOTS", default=[]) if p] or [VAR_DIR / "retraining-projects"]
RETRAINING_MODEL_ROOTS = [Path(p) for p in env.list("RETRAINING_MODEL_ROOTS", default=[]) if p] or [VAR_DIR / "retraining"]
RETRAINING_DIR = Path(env.str("RETRAINING_DIR", default="") or VAR_DIR / "retraining")
RETRAINING_STEP_MAX_ATTEMPTS = env.int("RETRAINING_STEP_MAX_ATTEMPTS", default=2)
RETRAINING_PROJECT_TIMEOUT = env.int("RETRAINING_PROJECT_TIMEOUT", default=3600)
RETRAINING_POLL_SECONDS = env.float("RETRAINING_POLL_SECONDS", default=10.0)
RETRAINING_REPLAY_CHUNK_ROWS = env.int("RETRAINING_REPLAY_CHUNK_ROWS", default=50_000)

CELERY_BEAT_SCHEDULE = {
    # Jobs whose worker died (no heartbeat) are retried, resumed or failed within minutes.
    "recover-stale-jobs": {"task": "retraining.tasks.recover_stale_jobs", "schedule": 60.0},
    "retraining-volume-triggers": {"task": "retraining.tasks.check_volume_triggers", "schedule": 900.0},
    # On-commit enqueueing is the fast path; this sweep catches events whose enqueue was lost.
    "dispatch-journal-events": {"task": "control_plane.tasks.dispatch_events", "schedule": 60.0},
    # Deliveries whose task was lost (a worker killed mid-send) are enqueued again.
    "requeue-stale-deliveries": {"task": "notifications.tasks.requeue_stale_deliveries", "schedule": 60.0},
    # Backstop for the `drain_predictions` command: drains the stream until empty (no-op when direct).
    "drain-prediction-log": {"task": "monitoring.tasks.drain_predictions", "schedule": 60.0},
    "purge-prediction-log": {"task": "monitoring.tasks.purge_predictions", "schedule": crontab(hour=3, minute=17)},
    # The prediction log's day partitions, a week ahead (the write path also creates a missing one).
    "prediction-log-partitions": {"task": "monitoring.tasks.prediction_partitions_ahead", "schedule": crontab(minute=7)},
    # Canary steps are analysed once their step_seconds have passed; this is how often that is checked.
    "resume-stale-materializations": {"task": "features.tasks.resume_stale_runs", "schedule": 60.0},
    "canary-analysis": {"task": "serving.tasks.canary_analysis_tick", "schedule": env.float("CANARY_TICK_SECONDS", default=15.0)},
}
