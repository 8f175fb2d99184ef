"""FastSock settings, read from the environment in this one place.

With nothing set, FastSock runs embedded: SQLite, an in-memory channel layer, a local-memory
cache, eager Celery tasks and files on local disk. ``DATABASE_URL``, ``REDIS_URL`` and the
``S3_*`` variables switch each part to the real service; that is how production runs.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from .environment import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent.parent

# --- Core -----------------------------------------------------------------------------------

# With nothing set FastSock runs embedded, for development: DEBUG defaults on. As soon as a real
# database is configured (a deployment), it defaults off, and then SECRET_KEY is required.
DEBUG = env_bool("DEBUG", not env_str("DATABASE_URL"))

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment (production), "
            "or DEBUG=1 to use the development key on your own machine."
        )
    SECRET_KEY = "dev-only-insecure-key-never-use-in-production-0123456789abcdef"

PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
_public_host = urlsplit(PUBLIC_BASE_URL).hostname
if _public_host and _public_host not in ALLOWED_HOSTS:
    ALLOWED_HOSTS.append(_public_host)

_public_origin = "{0.scheme}://{0.netloc}".format(urlsplit(PUBLIC_BASE_URL))
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [_public_origin])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_ratelimit",
    "fastsock.core",
    "accounts",
    "chat",
    "calls",
    "telecom",
]

MIDDLEWARE = [
    "fastsock.core.middleware.request_id_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "fastsock.core.middleware.access_log_middleware",
]

ROOT_URLCONF = "fastsock.urls"
WSGI_APPLICATION = "fastsock.wsgi.application"
ASGI_APPLICATION = "fastsock.asgi.application"

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
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Database -------------------------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL")
_pool_max = 0
if DATABASE_URL:
    # No health check per checkout: with the pool that is a round trip before every query batch.
    # The pool drops a connection that broke, and retires idle ones (max_idle).
    _database = dj_database_url.parse(DATABASE_URL, conn_max_age=0, conn_health_checks=False)
    if _database["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// URL (PostgreSQL).")
    _pool_max = env_int("DATABASE_POOL_MAX_SIZE", 10)
    if _pool_max > 0:
        # A pool rather than CONN_MAX_AGE: under ASGI persistent connections are per thread
        # and are not reused, so a busy Daphne would open connections without bound.
        _database["OPTIONS"] = {
            "pool": {
                "min_size": 1,
                "max_size": _pool_max,
                "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
                "max_idle": 300,
            },
        }
    else:
        _database["CONN_MAX_AGE"] = 60
    # Parameters travel apart from the SQL, so psycopg prepares a statement after a few uses
    # on a connection and PostgreSQL stops parsing and planning it again on every send.
    _database.setdefault("OPTIONS", {})["server_side_binding"] = True
    DATABASES = {"default": _database}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH") or str(BASE_DIR / "db.sqlite3"),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }

# HTTP requests one server process runs at once (0: no limit); the others wait their turn without
# holding a thread or a connection (fastsock.core.concurrency). By default as many as the pool has
# connections, so that a burst of requests queues instead of timing out on the pool.
HTTP_MAX_CONCURRENT_REQUESTS = env_int("HTTP_MAX_CONCURRENT_REQUESTS", _pool_max)

# --- Redis: channel layer, cache, Celery ----------------------------------------------------

REDIS_URL = env_str("REDIS_URL")

# Every Redis key FastSock writes (cache, presence, channel layer) starts with this, so that
# several deployments (or test servers) can share one Redis without seeing each other.
REDIS_KEY_PREFIX = env_str("CACHE_KEY_PREFIX", "fastsock")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a send to a user is one PUBLISH, and each process reads everything
            # for its sockets over one subscribed connection. It delivers at most once, like
            # any layer; the layer is only the "something new" signal and durable events are
            # filled in from the database (fastsock.core.streams). The list-based core layer
            # cost several round trips per recipient and a blocking read per process.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                "prefix": f"{REDIS_KEY_PREFIX}:asgi",
            },
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "fastsock.core.cache.OneTripRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL") or REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or "cache+memory://"
# Without a broker the embedded default runs tasks in-process, right away.
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 3600
# One result backend (and Redis connection pool) per process rather than per thread: under Daphne
# every request runs on a new thread, and a task sent from one built a backend and a Redis client
# of its own each time (about a tenth of the CPU of POST /v1/messages).
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TIMEZONE = "UTC"
# Workers take tasks from this queue; deployments (and parallel test runs) sharing one Redis keep apart by it.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE") or "celery"
CELERY_BEAT_SCHEDULE = {
    "purge-old-stream-events": {"task": "core.stream_purge", "schedule": 3600.0},
    "end-abandoned-calls": {"task": "calls.sweep", "schedule": 15.0},
    "requeue-due-sms": {"task": "telecom.sms_sweep", "schedule": 15.0},
    "count-telecom-usage": {"task": "telecom.usage_aggregate", "schedule": 300.0},
    "probe-gateways-and-trunks": {"task": "telecom.check_connectors", "schedule": 60.0},
    "forget-old-idempotency-keys": {"task": "telecom.idempotency_prune", "schedule": 3600.0},
}

# --- Files ----------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT") or BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or BASE_DIR / "media").resolve()
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 25 * 1024 * 1024)
# Requests larger than this are refused before Django reads them into memory; uploads stream.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

S3_BUCKET = env_str("S3_BUCKET")
_staticfiles_backend = (
    "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG else "fastsock.core.staticfiles.StaticFilesStorage"
)
if S3_BUCKET:
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": S3_BUCKET,
                "endpoint_url": env_str("S3_ENDPOINT_URL") or None,
                "access_key": env_str("S3_ACCESS_KEY_ID") or None,
                "secret_key": env_str("S3_SECRET_ACCESS_KEY") or None,
                "region_name": env_str("S3_REGION") or None,
                "addressing_style": "path",
                "signature_version": "s3v4",  # MinIO and current S3 regions accept only SigV4
                "default_acl": None,
                "file_overwrite": False,
                # Private objects, reachable only through short-lived signed URLs.
                "querystring_auth": True,
                "querystring_expire": env_int("S3_URL_TTL", 300),
            },
        },
        "staticfiles": {"BACKEND": _staticfiles_backend},
    }
else:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": _staticfiles_backend},
    }

# --- Security -------------------------------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# Probes and scrapers talk plain HTTP inside the deployment.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 0 if DEBUG else env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("TRUST_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_FAILURE_VIEW = "fastsock.core.views.csrf_failure"

# --- REST API -------------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "fastsock.core.api.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "fastsock.core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_ACCESS_TTL", 15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env_int("JWT_REFRESH_TTL", 14 * 24 * 3600)),
    "ROTATE_REFRESH_TOKENS": False,
    "UPDATE_LAST_LOGIN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY") or SECRET_KEY,
    "ALGORITHM": "HS256",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "FastSock API",
    "DESCRIPTION": "Chat, calls and telecom APIs. See docs/ in the repository for the WebSocket protocol.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI from our own static files: the pages load nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RoomKindEnum": "chat.models.Room.Kind",
        "AttachmentKindEnum": "chat.models.Attachment.Kind",
        "MessageTypeEnum": "chat.models.Message.Type",
        "MemberRoleEnum": "chat.models.Membership.Role",
        "NotificationLevelEnum": "chat.models.Membership.Notify",
    },
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Rates per action, "count/period"; read at request time so tests and operators can change them.
RATE_LIMITS = {
    "auth.login.ip": env_str("RATE_LIMIT_LOGIN_IP", "20/m"),
    "auth.login.username": env_str("RATE_LIMIT_LOGIN_USERNAME", "10/m"),
    "auth.register.ip": env_str("RATE_LIMIT_REGISTER_IP", "10/h"),
    "auth.refresh.ip": env_str("RATE_LIMIT_REFRESH_IP", "60/m"),
    "auth.password_change.user": env_str("RATE_LIMIT_PASSWORD_CHANGE_USER", "10/h"),
    "chat.message.user": env_str("RATE_LIMIT_MESSAGE_USER", "120/m"),
    "chat.upload.user": env_str("RATE_LIMIT_UPLOAD_USER", "30/m"),
    "chat.search.user": env_str("RATE_LIMIT_SEARCH_USER", "60/m"),
    "chat.reaction.user": env_str("RATE_LIMIT_REACTION_USER", "120/m"),
    "chat.room.user": env_str("RATE_LIMIT_ROOM_USER", "60/h"),
    "chat.write.user": env_str("RATE_LIMIT_CHAT_WRITE_USER", "300/m"),
    "accounts.search.user": env_str("RATE_LIMIT_PEOPLE_SEARCH_USER", "120/m"),
    "calls.ice.user": env_str("RATE_LIMIT_ICE_SERVERS_USER", "30/m"),
    "calls.group.user": env_str("RATE_LIMIT_GROUP_CALL_USER", "30/m"),
    "calls.invite.user": env_str("RATE_LIMIT_CALL_INVITE_USER", "10/m"),
    "telecom.projects.user": env_str("RATE_LIMIT_TELECOM_PROJECTS_USER", "30/h"),
    "telecom.messages.project": env_str("RATE_LIMIT_SMS_PROJECT", "6000/m"),
    "telecom.messages.key": env_str("RATE_LIMIT_SMS_KEY", "3000/m"),
    "telecom.calls.project": env_str("RATE_LIMIT_CALLS_PROJECT", "600/m"),
    "telecom.calls.key": env_str("RATE_LIMIT_CALLS_KEY", "300/m"),
    "telecom.flows.project": env_str("RATE_LIMIT_FLOWS_PROJECT", "120/m"),
    "telecom.flows.key": env_str("RATE_LIMIT_FLOWS_KEY", "60/m"),
}
RATELIMIT_IP_META_KEY = env_str("RATELIMIT_IP_META_KEY") or None
# How many proxies of ours append to X-Forwarded-For: the client address is that many from the right.
TRUSTED_PROXY_HOPS = env_int("TRUSTED_PROXY_HOPS", 1)
RATELIMIT_USE_CACHE = "default"
SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit only knows django-redis; Django's own Redis cache increments atomically.
    "django_ratelimit.W001",
]
if not REDIS_URL:
    # The embedded default is one process, where a local-memory cache is the shared cache.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

# --- Chat -----------------------------------------------------------------------------------

CHAT_MESSAGE_MAX_LENGTH = env_int("CHAT_MESSAGE_MAX_LENGTH", 10_000)
CHAT_MAX_ROOM_MEMBERS = env_int("CHAT_MAX_ROOM_MEMBERS", 1_000)
CHAT_MAX_EMOJI_PER_MESSAGE = env_int("CHAT_MAX_EMOJI_PER_MESSAGE", 50)
UPLOAD_ALLOWED_TYPES = env_list(
    "UPLOAD_ALLOWED_TYPES",
    [
        "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
        "application/zip", "audio/mpeg", "audio/ogg", "audio/wav", "video/mp4", "video/webm",
    ],
)  # fmt: skip
# Images whose pixels (all frames of an animation together) exceed this are refused before
# they are decoded: a few kilobytes can declare gigapixels. Pillow's own guard stops at 178 M.
UPLOAD_IMAGE_MAX_PIXELS = env_int("UPLOAD_IMAGE_MAX_PIXELS", 50_000_000)

# --- Calls ----------------------------------------------------------------------------------

# ICE servers handed to browsers for calls (calls.turn). TURN credentials are minted per request
# from the secret coturn also holds (TURN REST scheme), so no TURN password is stored anywhere.
STUN_URLS = env_list("STUN_URLS")
TURN_URLS = env_list("TURN_URLS")
TURN_SHARED_SECRET = env_str("TURN_SHARED_SECRET")
TURN_CREDENTIAL_TTL = env_int("TURN_CREDENTIAL_TTL", 3600)
# A browser given a URL of the wrong scheme refuses to create the whole peer connection.
for _name, _urls, _schemes in (
    ("STUN_URLS", STUN_URLS, ("stun:", "stuns:")),
    ("TURN_URLS", TURN_URLS, ("turn:", "turns:")),
):
    for _url in _urls:
        if not _url.startswith(_schemes):
            raise ImproperlyConfigured(f"{_name} entries must start with {' or '.join(_schemes)}, not {_url!r}.")
# Under a minute leaves a client no time to use its credentials; past a day a leaked one lasts too long.
if not 60 <= TURN_CREDENTIAL_TTL <= 86400:
    raise ImproperlyConfigured(f"TURN_CREDENTIAL_TTL must be between 60 and 86400 seconds, not {TURN_CREDENTIAL_TTL}.")

# --- Telecom --------------------------------------------------------------------------------

# The longest SMS body accepted, and the multi-part limit where no gateway names its own.
TELECOM_MAX_BODY_CHARACTERS = env_int("TELECOM_MAX_BODY_CHARACTERS", 1600)
TELECOM_MAX_SEGMENTS = env_int("TELECOM_MAX_SEGMENTS", 10)
# Sending: attempts before a message is dead-lettered, the backoff between them (exponential with
# full jitter), when the sweeper re-enqueues a queued message, and when one stuck in "sending"
# counts as lost.
TELECOM_MAX_ATTEMPTS = env_int("TELECOM_MAX_ATTEMPTS", 6)
TELECOM_RETRY_BASE_SECONDS = env_int("TELECOM_RETRY_BASE_SECONDS", 5)
TELECOM_RETRY_MAX_SECONDS = env_int("TELECOM_RETRY_MAX_SECONDS", 600)
TELECOM_REQUEUE_AFTER_SECONDS = env_int("TELECOM_REQUEUE_AFTER_SECONDS", 30)
TELECOM_SENDING_STUCK_SECONDS = env_int("TELECOM_SENDING_STUCK_SECONDS", 600)
TELECOM_CALLBACK_TIMEOUT_SECONDS = env_int("TELECOM_CALLBACK_TIMEOUT_SECONDS", 10)
# Voice: the Stasis application the orchestrator registers (ARI_URL, ARI_USERNAME and ARI_PASSWORD
# are read from the environment where they are used), how long an outbound call rings, and each
# trunk's circuit breaker: open after this many transport failures in a row, for this long.
ARI_APP = env_str("ARI_APP") or "fastsock"
TELECOM_CALL_RING_SECONDS = env_int("TELECOM_CALL_RING_SECONDS", 30)
TELECOM_BREAKER_FAILURES = env_int("TELECOM_BREAKER_FAILURES", 5)
TELECOM_BREAKER_OPEN_SECONDS = env_int("TELECOM_BREAKER_OPEN_SECONDS", 30)
# An Idempotency-Key is remembered this long (Stripe: 24 hours); after it, the key may be reused.
TELECOM_IDEMPOTENCY_TTL_HOURS = env_int("TELECOM_IDEMPOTENCY_TTL_HOURS", 24)
# Text to speech for `say` steps: the espeak-ng binary and how long one rendering may take; and
# the languages whose number and digit sounds Asterisk has (texts of only digits use them).
TELECOM_TTS_BINARY = env_str("TELECOM_TTS_BINARY", "espeak-ng")
TELECOM_TTS_TIMEOUT_SECONDS = env_int("TELECOM_TTS_TIMEOUT_SECONDS", 20)
TELECOM_ARI_SOUND_LANGUAGES = [code.lower() for code in env_list("TELECOM_ARI_SOUND_LANGUAGES", ["en"])]
# Inbound MMS: media kept per message (the rest are noted as dropped), and how long fetching one
# medium may take in all (the webhook waits for it; each is also capped at UPLOAD_MAX_BYTES).
TELECOM_MMS_MAX_MEDIA = env_int("TELECOM_MMS_MAX_MEDIA", 10)
TELECOM_MMS_FETCH_TIMEOUT_SECONDS = env_int("TELECOM_MMS_FETCH_TIMEOUT_SECONDS", 10)

# --- Realtime -------------------------------------------------------------------------------

WS_MAX_FRAME_BYTES = env_int("WS_MAX_FRAME_BYTES", 64 * 1024)
WS_FRAMES_PER_SECOND = env_int("WS_FRAMES_PER_SECOND", 20)
WS_FRAME_BURST = env_int("WS_FRAME_BURST", 60)
# More than WS_INVALID_FRAMES_MAX invalid frames within WS_INVALID_FRAMES_WINDOW seconds closes the socket (4008).
WS_INVALID_FRAMES_MAX = env_int("WS_INVALID_FRAMES_MAX", 20)
WS_INVALID_FRAMES_WINDOW = env_int("WS_INVALID_FRAMES_WINDOW", 60)
# Durable events are kept at least this long for clients resuming with ?since= (CONTRACT: >= 24 h).
STREAM_RETENTION_HOURS = env_int("STREAM_RETENTION_HOURS", 48)
# Calls: how long a call rings before it counts as unanswered, how long a party's socket may be
# gone mid-call before the call ends, and the largest session description relayed.
CALL_RING_TIMEOUT_SECONDS = env_int("CALL_RING_TIMEOUT_SECONDS", 45)
CALL_RECONNECT_GRACE_SECONDS = env_int("CALL_RECONNECT_GRACE_SECONDS", 20)
CALL_MAX_SDP_BYTES = env_int("CALL_MAX_SDP_BYTES", 32 * 1024)
# "relay" makes browsers send all call media through TURN (hides people's addresses from each
# other, and works behind strict firewalls); "all" lets them connect directly when they can.
CALL_ICE_TRANSPORT_POLICY = env_str("CALL_ICE_TRANSPORT_POLICY", "all")
if CALL_ICE_TRANSPORT_POLICY not in ("all", "relay"):
    raise ImproperlyConfigured(f"CALL_ICE_TRANSPORT_POLICY must be all or relay, not {CALL_ICE_TRANSPORT_POLICY!r}.")
# A socket counts as open while its heartbeat (every third of this) keeps it fresh.
PRESENCE_TTL_SECONDS = env_int("PRESENCE_TTL_SECONDS", 60)
# Typing: repeats within this window are not relayed again; a start never stopped expires after the timeout.
TYPING_REPEAT_SECONDS = env_int("TYPING_REPEAT_SECONDS", 3)
TYPING_TIMEOUT_SECONDS = env_int("TYPING_TIMEOUT_SECONDS", 8)
# Threads per process for sockets' database calls on PostgreSQL (fastsock.core.websocket.db);
# keep it at or below DATABASE_POOL_MAX_SIZE.
WS_DB_THREADS = env_int("WS_DB_THREADS", 4)

# --- Group calls (Janus) --------------------------------------------------------------------

# FastSock creates and destroys Janus VideoRoom rooms with the plugin's admin key and grants each
# member a short-lived token through the admin API (calls.janus, calls.group); browsers reach
# Janus at JANUS_PUBLIC_URL. Secrets have no defaults: without them group calls answer 503.
JANUS_URL = env_str("JANUS_URL").rstrip("/")
JANUS_ADMIN_URL = env_str("JANUS_ADMIN_URL").rstrip("/")
JANUS_ADMIN_SECRET = env_str("JANUS_ADMIN_SECRET")
JANUS_VIDEOROOM_ADMIN_KEY = env_str("JANUS_VIDEOROOM_ADMIN_KEY")
JANUS_PUBLIC_URL = env_str("JANUS_PUBLIC_URL", JANUS_URL).rstrip("/")
JANUS_TOKEN_TTL = env_int("JANUS_TOKEN_TTL", 3600)
JANUS_MAX_PUBLISHERS = env_int("JANUS_MAX_PUBLISHERS", 16)
JANUS_TIMEOUT_SECONDS = env_int("JANUS_TIMEOUT_SECONDS", 5)
if not 60 <= JANUS_TOKEN_TTL <= 86400:
    raise ImproperlyConfigured(f"JANUS_TOKEN_TTL must be between 60 and 86400 seconds, not {JANUS_TOKEN_TTL}.")
if JANUS_MAX_PUBLISHERS < 1:
    raise ImproperlyConfigured(f"JANUS_MAX_PUBLISHERS must be at least 1, not {JANUS_MAX_PUBLISHERS}.")

# --- Metrics --------------------------------------------------------------------------------

# When set, /metrics answers only to "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env_str("METRICS_TOKEN")

# --- Logging --------------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOG_FORMAT = env_str("LOG_FORMAT", "json")  # "json", or "console" for humans
# Configured here rather than through LOGGING so that web, Celery and commands share one setup.
LOGGING_CONFIG = None

from fastsock.core.logging import configure_logging  # noqa: E402

configure_logging(level=LOG_LEVEL, fmt=LOG_FORMAT)
