"""Settings, all read from the environment; every knob has a default that runs on a fresh machine."""

import ipaddress
import os
import secrets
from decimal import Decimal, InvalidOperation
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key():
    """SECRET_KEY or SECRET_KEY_FILE; otherwise one generated once and kept under VAR_DIR."""
    if env.str("SECRET_KEY", default=""):
        return env.str("SECRET_KEY")
    if env.str("SECRET_KEY_FILE", default=""):
        return Path(env.str("SECRET_KEY_FILE")).read_text().strip()
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def _strict_bool(name, default):
    """Like env.bool, but a typo is an error instead of a silent False."""
    raw = env.str(name, default="").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def _decimal(name, default):
    """A Decimal from the environment (never through float); a bad value is an error naming the variable."""
    raw = env.str(name, default=default)
    try:
        return Decimal(raw)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number such as 100, not {raw!r}") from None


def _days(name, default):
    """Days to keep a kind of row (postbacks_project.retention); 0 or empty keeps them forever."""
    raw = env.str(name, default=str(default)).strip()
    if raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()):
        raise ImproperlyConfigured(f"{name} must be a whole number of days (0 or empty: keep forever), not {raw!r}")
    return int(raw)


def _token(name):
    """A bearer token from NAME or the file NAME_FILE names, of 16 characters or more; "" when neither is set."""
    token = env.str(name, default="")
    if not token and env.str(f"{name}_FILE", default=""):
        token = Path(env.str(f"{name}_FILE")).read_text().strip()
    if token and len(token) < 16:
        raise ImproperlyConfigured(f"{name} must be at least 16 characters (e.g. openssl rand -hex 32)")
    return token


def _networks(name):
    """Comma-separated addresses or CIDRs, checked now: a typo is an error at start, not a scrape refused later."""
    networks = []
    for part in filter(None, (part.strip() for part in env.str(name, default="").split(","))):
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be comma-separated addresses or CIDRs, not {part!r}") from None
    return networks


def _trusted_proxies(name):
    """The proxies in front of the hub: 0 (none), their number, or their addresses (CIDRs), outermost first."""
    if env.str("RECEIVER_TRUST_X_FORWARDED_FOR", default=""):
        raise ImproperlyConfigured(
            "RECEIVER_TRUST_X_FORWARDED_FOR is replaced by RECEIVER_TRUSTED_PROXIES: the number of proxies in front "
            "of the hub (1 for one nginx), or their addresses as CIDRs (see docs/operations.md)"
        )
    raw = env.str(name, default="").strip()
    if raw.isascii() and raw.isdigit():
        return int(raw)
    if not raw:
        return 0
    proxies = [part.strip() for part in raw.split(",")]
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be a number of proxies or a comma-separated list of their CIDRs, not {raw!r} "
                f"({proxy!r} is not an address or network)"
            ) from None
    return proxies


SECRET_KEY = _secret_key()
DEBUG = _strict_bool("DEBUG", False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
PORT = env.int("PORT", default=8000)
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default=f"http://127.0.0.1:{PORT}").rstrip("/")

# HTTPS: a hub whose public address is https:// gets redirects, HSTS and secure-only cookies by default (what
# `check --deploy` asks for); the default http://127.0.0.1 address of `make run` gets none, so it works on a
# fresh machine. Each one can be set on its own.
_HTTPS = PUBLIC_BASE_URL.startswith("https://")
SECURE_SSL_REDIRECT = _strict_bool("SECURE_SSL_REDIRECT", _HTTPS)
# A load balancer's health check, and Prometheus on the internal network, often call the backend over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^api/postback/health/?$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600 if _HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = _strict_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", _HTTPS)
SECURE_HSTS_PRELOAD = _strict_bool("SECURE_HSTS_PRELOAD", _HTTPS)
SESSION_COOKIE_SECURE = _strict_bool("SESSION_COOKIE_SECURE", _HTTPS)
CSRF_COOKIE_SECURE = _strict_bool("CSRF_COOKIE_SECURE", _HTTPS)
# Behind a reverse proxy that terminates TLS, requests arrive over HTTP: its X-Forwarded-Proto says they were
# HTTPS (without it, SECURE_SSL_REDIRECT would redirect forever). Only when clients cannot reach the hub directly.
if _strict_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Admin forms posted from the public address pass the CSRF origin check even if the proxy hides the scheme.
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "receiver",
    "partners",
    "testing_tools",
    "partners.portal",
    "postbacks_project.alerts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "postbacks_project.urls"
WSGI_APPLICATION = "postbacks_project.wsgi.application"

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
            ]
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the worker share the file without
    # "database is locked" errors; IMMEDIATE takes the write lock at BEGIN, not mid-transaction.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not memory, so that the worker processes of the end-to-end tests see the test database;
    # one per test run (process id), so that two runs in one checkout do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test_db_{os.getpid()}.sqlite3")}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://postbacks")}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
# Our datetime format (YYYY-MM-DD HH:MM:SS and the zone) instead of the language's "March 1, 2026, 12:05 p.m.".
FORMAT_MODULE_PATH = ["postbacks_project.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]  # the project's own (the favicon); the apps' come from their static/
STATIC_ROOT.mkdir(exist_ok=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_keys": {"()": "postbacks_project.masking.MaskSecretsFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_keys"]}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

REST_FRAMEWORK = {
    # Token first, so that an anonymous caller gets 401 with WWW-Authenticate rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Staff, and the Django permission for each operation: view, add, change, or a custom one (resend).
    "DEFAULT_PERMISSION_CLASSES": ["postbacks_project.permissions.StaffPermissions"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Postback hub API",
    "DESCRIPTION": "Admin and integrator API of the postback hub. Staff users holding the Django permission for each "
    "operation: session or token authentication.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs pages' scripts come from drf-spectacular-sidecar's static files: no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per shared choice set (conversion statuses; delivery and attempt error codes), not one per field.
    "ENUM_NAME_OVERRIDES": {
        "ConversionStatusEnum": "receiver.lifecycle.Status",
        "DeliveryErrorCodeEnum": "partners.models.ERROR_CHOICES",
    },
    # Error answers (400, 401, 403, 404) documented for every operation, as clients and schemathesis expect.
    # Then the last week's dates as examples, and the receiver's own endpoints (not DRF views, no staff errors).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "postbacks_project.api.document_errors",
        "postbacks_project.api.recent_examples",
        "postbacks_project.api.receiver_endpoints",
    ],
}

# Celery: an embedded filesystem broker by default (no server needed), Redis by one variable.
# "localhost" only keeps kombu from warning that no host was given; the filesystem transport has none.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost/")
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # A publish tries the broker once. kombu's default retries a refused connection until the timeout, sleeping
    # 2 s then 4 s: while Redis was down every postback took 6 s to answer. What is not queued, the sweep sends.
    # (The worker's own reconnection loop does not read this; it keeps retrying until the broker is back.)
    "max_retries": 0,
    "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _name in ("queue", "processed", "control"):
        (_broker_dir / _name).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        # kombu's default of 1 s between polls caps a worker at about one task per second per process.
        "polling_interval": env.float("FILESYSTEM_BROKER_POLL", default=0.1),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes the database connection around every task unless this is set, which
# costs a new connection per delivery (5 ms on PostgreSQL); celery.py closes stale ones instead.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TIMEZONE = TIME_ZONE

# Mail (the partner portal's invitations, the alerts' notices): printed to the console unless EMAIL_URL names a
# server, e.g. smtp+tls://user:password@smtp.example:587. Only the EMAIL_* settings are taken from it.
_EMAIL = env.email_url("EMAIL_URL", default="consolemail://")
globals().update({name: value for name, value in _EMAIL.items() if name.startswith("EMAIL_")})

# Receiver.
HOUSE_CURRENCY = env.str("HOUSE_CURRENCY", default="USD").upper()
# Points a user earns per house-currency unit of an approved conversion (an offer may set its own).
POINTS_PER_UNIT = _decimal("POINTS_PER_UNIT", "100")
RECEIVER_BODY_LIMIT = env.int("RECEIVER_BODY_LIMIT", default=64 * 1024)
RECEIVER_RATE_LIMIT = env.str("RECEIVER_RATE_LIMIT", default="100/m") or None
# Offer claims (POST /api/offers/<id>/claim) per user id: one user cannot claim offers in a loop.
CLAIM_RATE_LIMIT = env.str("CLAIM_RATE_LIMIT", default="10/m") or None
RECEIVER_TRUSTED_PROXIES = _trusted_proxies("RECEIVER_TRUSTED_PROXIES")
# Seconds a request's whole body may take to arrive under gunicorn (0: no limit); a stalled one is stored as such.
WEB_BODY_TIMEOUT = env.float("WEB_BODY_TIMEOUT", default=10.0)
RATELIMIT_USE_CACHE = "default"
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache":
    # The embedded default counts per process, which is right for one web process;
    # several web processes need CACHE_URL=redis://... so that they share the counters.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003"]
else:
    # Django's own Redis cache does atomic increments; django-ratelimit only lists django-redis.
    SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]

# Forwarding: the one outbound transport's limits and the delivery schedule.
OUTBOUND_ALLOW_LOOPBACK = _strict_bool("OUTBOUND_ALLOW_LOOPBACK", False)
OUTBOUND_TIMEOUT = env.float("OUTBOUND_TIMEOUT", default=10.0)
# Hours a partner's previous signing secret keeps signing requests (beside the new one) after a rotation.
PARTNER_SECRET_ROTATION_HOURS = env.float("PARTNER_SECRET_ROTATION_HOURS", default=24.0)
if PARTNER_SECRET_ROTATION_HOURS < 0:
    raise ImproperlyConfigured("PARTNER_SECRET_ROTATION_HOURS must be 0 or more hours")


def _retry_schedule(raw):
    try:
        schedule = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        schedule = []
    if not schedule or any(seconds < 0 for seconds in schedule):
        raise ImproperlyConfigured(f"DELIVERY_RETRY_SCHEDULE must be comma-separated seconds >= 0, not {raw!r}")
    return schedule


DELIVERY_RETRY_SCHEDULE = _retry_schedule(
    env.str("DELIVERY_RETRY_SCHEDULE", default="0,5,300,1800,7200,18000,36000,36000")
)

# Seconds a due delivery may wait for its queued task before the sweep queues it again.
DELIVERY_SWEEP_GRACE = env.int("DELIVERY_SWEEP_GRACE", default=60)
# Retries due within this many seconds wait in the broker; later ones are queued by the sweep.
DELIVERY_COUNTDOWN_LIMIT = env.int("DELIVERY_COUNTDOWN_LIMIT", default=600)
# An attempt in flight is locked for 2 x OUTBOUND_TIMEOUT + this; a worker that dies holds it no longer.
DELIVERY_LOCK_MARGIN = env.int("DELIVERY_LOCK_MARGIN", default=60)
# The drainer (partners/drainer.py): requests in flight per worker process, and how long one drain task runs
# before it hands over to a fresh one (so that one task never holds a worker slot for a whole backlog).
DELIVERY_DRAIN_CONCURRENCY = env.int("DELIVERY_DRAIN_CONCURRENCY", default=16)
DELIVERY_DRAIN_SECONDS = env.float("DELIVERY_DRAIN_SECONDS", default=30.0)
# Per partner, unless set on the partner: requests in flight across all workers, and per second per worker (0: none).
DELIVERY_PARTNER_CONCURRENCY = env.int("DELIVERY_PARTNER_CONCURRENCY", default=8)
DELIVERY_PARTNER_RATE = env.int("DELIVERY_PARTNER_RATE", default=0)
# A partner's circuit breaker opens after this many failures in a row; one probe then goes after the probe seconds,
# doubled after each failed probe up to the maximum.
DELIVERY_BREAKER_FAILURES = env.int("DELIVERY_BREAKER_FAILURES", default=5)
DELIVERY_BREAKER_PROBE_SECONDS = env.int("DELIVERY_BREAKER_PROBE_SECONDS", default=30)
DELIVERY_BREAKER_PROBE_MAX = env.int("DELIVERY_BREAKER_PROBE_MAX", default=3600)
PARTNER_AUTO_DISABLE_AFTER = env.int("PARTNER_AUTO_DISABLE_AFTER", default=3 * 24 * 3600)

# Retention (postbacks_project/retention.py, manage.py prune): days each kind of row is kept; 0 or empty keeps it
# forever. Conversions, their events, points and deliveries are the money record and are never pruned.
RETAIN_RECEIVED_DAYS = _days("RETAIN_RECEIVED_DAYS", 90)
RETAIN_ATTEMPTS_DAYS = _days("RETAIN_ATTEMPTS_DAYS", 90)
RETAIN_TEST_POSTBACKS_DAYS = _days("RETAIN_TEST_POSTBACKS_DAYS", 30)
RETAIN_CLICKS_DAYS = _days("RETAIN_CLICKS_DAYS", 180)
# Rows deleted per transaction: each batch holds its locks (SQLite: the one write lock) only this long.
PRUNE_BATCH_SIZE = env.int("PRUNE_BATCH_SIZE", default=5000)
if PRUNE_BATCH_SIZE < 1:
    raise ImproperlyConfigured(f"PRUNE_BATCH_SIZE must be at least 1, not {PRUNE_BATCH_SIZE}")

# Alerts (postbacks_project/alerts/, kinds registered by the apps): a notice when a condition starts and one when it
# clears, by email (ALERT_EMAILS, else ADMINS, through EMAIL_URL) and, when set, to an operator webhook signed like
# partner deliveries (Standard Webhooks).
ALERT_EMAILS = env.list("ALERT_EMAILS", default=[])
ADMINS = [(address, address) for address in env.list("ADMINS", default=[])]
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_WEBHOOK_SECRET = env.str("ALERT_WEBHOOK_SECRET", default="")
if not ALERT_WEBHOOK_SECRET and env.str("ALERT_WEBHOOK_SECRET_FILE", default=""):
    ALERT_WEBHOOK_SECRET = Path(env.str("ALERT_WEBHOOK_SECRET_FILE")).read_text().strip()
ALERT_CHECK_EVERY = env.float("ALERT_CHECK_EVERY", default=60.0)
# A partner is failing when more than this share of its attempts failed over the minutes, out of enough attempts.
ALERT_FAILURE_RATIO = env.float("ALERT_FAILURE_RATIO", default=0.5)
ALERT_FAILURE_MINUTES = env.float("ALERT_FAILURE_MINUTES", default=10.0)
ALERT_FAILURE_MIN_ATTEMPTS = env.int("ALERT_FAILURE_MIN_ATTEMPTS", default=10)
ALERT_BACKLOG_SECONDS = env.int("ALERT_BACKLOG_SECONDS", default=600)
# A network without its own silence_alert_minutes is silent after its longest gap of the week times the factor.
ALERT_SILENCE_FACTOR = env.float("ALERT_SILENCE_FACTOR", default=2.0)
ALERT_SILENCE_FLOOR_MINUTES = env.float("ALERT_SILENCE_FLOOR_MINUTES", default=30.0)
# Each worker checks every so many seconds that it reaches the database and the broker (0: it does not), and alerts
# once one has failed every check for the given seconds.
ALERT_WORKER_CHECK_EVERY = env.float("ALERT_WORKER_CHECK_EVERY", default=15.0)
ALERT_WORKER_UNREACHABLE_SECONDS = env.float("ALERT_WORKER_UNREACHABLE_SECONDS", default=60.0)

CELERY_BEAT_SCHEDULE = {
    "check-alerts": {"task": "postbacks_project.alerts.tasks.check", "schedule": ALERT_CHECK_EVERY},
    "sweep-deliveries": {"task": "partners.tasks.sweep", "schedule": env.float("DELIVERY_SWEEP_EVERY", default=30.0)},
    "sweep-test-postbacks": {
        "task": "testing_tools.tasks.sweep_test_postbacks",
        "schedule": env.float("DELIVERY_SWEEP_EVERY", default=30.0),
    },
    # Daily, at a quiet hour (CELERY_TIMEZONE, UTC): a run deletes a day's worth of each kind.
    "prune-old-rows": {"task": "receiver.tasks.prune", "schedule": crontab(hour=3, minute=30)},
}

# Metrics (GET /metrics, postbacks_project/metrics.py). Every web and worker process writes its counters into files
# in this folder, prometheus_client's multiprocess mode, and a scrape sums them; the variable is set here, before any
# module imports prometheus_client, which reads it at import. `make run` empties it before it starts the processes.
METRICS_DIR = Path(env.str("PROMETHEUS_MULTIPROC_DIR", default=str(VAR_DIR / "metrics"))).resolve()
METRICS_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(METRICS_DIR)
# Who may scrape: a bearer token, or an address in the allowlist; with neither, /metrics answers 404.
METRICS_TOKEN = _token("METRICS_TOKEN")
METRICS_ALLOWED_IPS = _networks("METRICS_ALLOWED_IPS")

BENCHMARK_ENDPOINTS = _strict_bool("BENCHMARK_ENDPOINTS", False)
