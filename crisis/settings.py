"""The one settings module. Everything that differs between machines comes from the
environment (see the configuration table in README.md)."""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from crisis.env import env_bool, env_float, env_int, env_json_object, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FENGHUO_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

# A development key is only acceptable while DEBUG is on; production must bring its own.
_INSECURE_KEYS = {"", "changeme", "change-me", "secret", "django-insecure"}
SECRET_KEY = env_str("SECRET_KEY")
if not DEBUG and (SECRET_KEY.strip() in _INSECURE_KEYS or len(SECRET_KEY) < 32):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random string of at least 32 characters when DEBUG is "
        "off. Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )
if DEBUG and not SECRET_KEY:
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "ninja",
    "crisis",
    "monitoring",
    "response",
    "review",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "crisis.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "crisis.urls"
WSGI_APPLICATION = "crisis.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "crisis.context_processors.shell",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fenghuo.sqlite3'}")
try:
    _db = dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
except ValueError as exc:  # unknown scheme or malformed URL
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # web, worker and beat share one SQLite file in the embedded setup: WAL lets readers
    # go on during a write, IMMEDIATE transactions and a timeout queue writers instead of
    # failing with "database is locked".
    _db["CONN_MAX_AGE"] = 0
    _db["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    _db["CONN_HEALTH_CHECKS"] = True
if env_str("TEST_DATABASE_NAME"):
    _db["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME")}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- Language and time ----------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if not env_bool("STATIC_MANIFEST", not DEBUG)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve straight from the finders when collectstatic has not run (tests, first start).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", DEBUG)
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security -------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG and env_bool("HTTPS", False))
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("HTTPS", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("MAX_BODY_BYTES", 5 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

# --- E-mail ---------------------------------------------------------------------------------
# Without a configured mail server (a laptop, the demo) mail is printed to the log instead
# of failing against localhost:25.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if env_str("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "fenghuo@localhost")
EMAIL_TIMEOUT = 10

# --- Celery ---------------------------------------------------------------------------------
# The embedded default is an SQLite queue file under var/ (crisis/broker.py); production
# uses Redis. Kombu's filesystem transport is refused: its consumers read half-written
# message files and the worker dies (kombu issue 1551).
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "sqlite://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL=filesystem:// is not supported: Kombu's filesystem transport lets "
        "the worker read half-written messages and die. Leave CELERY_BROKER_URL unset for the "
        "embedded SQLite queue (one machine), or use redis://host:6379/0."
    )
if CELERY_BROKER_URL.startswith("sqlite://"):
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "path": env_str("BROKER_SQLITE_PATH", str(BROKER_DIR / "queue.sqlite3")),
        "polling_interval": 0.2,
        "visibility_timeout": 3600,
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# Give up on a send quickly when the broker is away: the work is already recorded in the
# database and a sweep sends it later (crisis/enqueue.py).
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("BROKER_CONNECTION_TIMEOUT", 2.0)
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# Tests run tasks inline unless a test starts a real worker; production never sets this.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "fenghuo")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Health ---------------------------------------------------------------------------------
# A worker or beat whose last heartbeat is older than this is reported as down.
HEARTBEAT_INTERVAL = env_float("HEARTBEAT_INTERVAL", 5.0)
HEARTBEAT_MAX_AGE = env_float("HEARTBEAT_MAX_AGE", 30.0)
# Progress, not only liveness: beat sends a probe task through the broker every
# HEARTBEAT_INTERVAL seconds; when none has come back for this long, the queue is not moving
# and /healthz says so. Upper apps add their own progress checks (the monitoring inbox).
HEALTH_QUEUE_MAX_DELAY = env_float("HEALTH_QUEUE_MAX_DELAY", 60.0)

# --- Product settings -----------------------------------------------------------------------
SENTIMENT_ENGINE = env_str("SENTIMENT_ENGINE", "fenghuo")
# Monitoring ingest (docs/monitoring.md): push/upload size limit, inbox processing chunk and
# claim lease, and when a failing source pages the managers.
INGEST_MAX_BYTES = env_int("INGEST_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
INBOX_CHUNK_SIZE = env_int("INBOX_CHUNK_SIZE", 1000, minimum=1)
INBOX_CLAIM_TIMEOUT = env_float("INBOX_CLAIM_TIMEOUT", 120.0)
INBOX_MAX_ATTEMPTS = env_int("INBOX_MAX_ATTEMPTS", 5, minimum=1)
SOURCE_PAGE_AFTER_FAILURES = env_int("SOURCE_PAGE_AFTER_FAILURES", 5, minimum=1)
SOURCE_MAX_BACKOFF_SECONDS = env_int("SOURCE_MAX_BACKOFF_SECONDS", 3600, minimum=1)
# A polled source's lease (a poll running longer is presumed dead) and its fetch timeout.
SOURCE_POLL_LEASE_SECONDS = env_float("SOURCE_POLL_LEASE_SECONDS", 300.0)
SOURCE_FETCH_TIMEOUT = env_float("SOURCE_FETCH_TIMEOUT", 15.0)
# Near-duplicate clusters a new post may join: those seen within this many hours.
MONITORING_CLUSTER_WINDOW_HOURS = env_float("MONITORING_CLUSTER_WINDOW_HOURS", 72.0)
# Detection (docs/alerts.md): posts older than this raise no alert (a backfill pages no one);
# a minute closes this long after it ends, plus the longest poll interval up to the cap;
# a new topic's baseline learns from this much history; project-wide threshold overrides
# (a JSON object shaped like a topic's thresholds, monitoring.detection.DetectionConfig).
MONITORING_ALERT_MAX_AGE_MINUTES = env_float("MONITORING_ALERT_MAX_AGE_MINUTES", 60.0)
# During a burst, an incident's signals are recomputed from a stored batch at most this often
# per worker process (the beat task refreshes every open incident every 15 s anyway).
MONITORING_SIGNALS_REFRESH_SECONDS = env_float("MONITORING_SIGNALS_REFRESH_SECONDS", 5.0)
MONITORING_CLOSE_GRACE_SECONDS = env_float("MONITORING_CLOSE_GRACE_SECONDS", 5.0)
MONITORING_MAX_CLOSE_GRACE_SECONDS = env_float("MONITORING_MAX_CLOSE_GRACE_SECONDS", 900.0)
MONITORING_WARMUP_HOURS = env_float("MONITORING_WARMUP_HOURS", 6.0)
MONITORING_DETECTION_DEFAULTS = env_json_object("MONITORING_DETECTION_DEFAULTS", {})
DEMO_PASSWORD = env_str("DEMO_PASSWORD")
# Incident core (docs/incidents.md): where the links in pages point, how long a signed
# acknowledge link stays valid, and overrides of the severity score (crisis/severity.py).
FENGHUO_BASE_URL = env_str("FENGHUO_BASE_URL", "http://127.0.0.1:8000")
FENGHUO_ACK_LINK_MAX_AGE = env_int("FENGHUO_ACK_LINK_MAX_AGE", 24 * 3600, minimum=60)
FENGHUO_SEVERITY = env_json_object("FENGHUO_SEVERITY", {})

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"jieba": {"level": "WARNING"}},
}

SITE_NAME = _("Fenghuo")
