"""Structured JSON logs with request ids, and redaction of anything secret.

Every record, from structlog or from the standard library (Django, Daphne, Celery), passes
through :func:`redact_secrets` before it is rendered, so a password, token, cookie or API key
never reaches a log line, whichever field or string it hides in.
"""

from __future__ import annotations

import logging
import logging.config
import re
from collections.abc import Mapping
from typing import Any

import structlog

REDACTED = "[redacted]"

# Field names whose values are secret wherever they appear (headers, bodies, query strings).
_SECRET_KEY_PATTERN = re.compile(
    r"pass(word)?|passwd|secret|token|authorization|api[_-]?key|cookie|session(id)?|csrf|"
    r"credential|signature|^access$|^refresh$|^key$|^sig$",
    re.IGNORECASE,
)

_SECRET_TEXT_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization schemes: "Bearer eyJ...", "ApiKey fs_live_...", "Basic dXNlcjpwYXNz".
    (re.compile(r"\b(Bearer|ApiKey|Basic|Token)\s+[^\s\"',;]+", re.IGNORECASE), rf"\1 {REDACTED}"),
    # JSON Web Tokens anywhere in a string.
    (re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]+"), REDACTED),
    # key=value pairs in query strings, form bodies and cookies.
    (
        re.compile(
            r"(?P<key>[\w.-]*(?:pass(?:word)?|passwd|secret|token|api[_-]?key|sessionid|csrftoken|"
            r"signature|credential|access|refresh|key|sig)[\w.-]*)(?P<sep>=|%3D)(?P<value>[^&\s\"';,]+)",
            re.IGNORECASE,
        ),
        rf"\g<key>\g<sep>{REDACTED}",
    ),
    # "key": "value" pairs in JSON text.
    (
        re.compile(
            r"(?P<key>\"[\w.-]*(?:pass(?:word)?|passwd|secret|token|api[_-]?key|credential|"
            r"signature|access|refresh)[\w.-]*\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"",
            re.IGNORECASE,
        ),
        rf'\g<key>"{REDACTED}"',
    ),
]


def redact_text(text: str) -> str:
    """Return ``text`` with secret-looking values replaced."""
    for pattern, replacement in _SECRET_TEXT_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, *, depth: int = 0) -> Any:
    """Redact secrets inside strings, mappings and sequences (nested up to a sane depth)."""
    if depth > 8:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes):
        return redact_text(value.decode("utf-8", "replace"))
    if isinstance(value, Mapping):
        return {
            key: (
                REDACTED
                if isinstance(key, str) and _SECRET_KEY_PATTERN.search(key)
                else redact_value(item, depth=depth + 1)
            )
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set)):
        return [redact_value(item, depth=depth + 1) for item in value]
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: the last step before rendering, so nothing skips it."""
    return redact_value(event_dict)


def _drop_django_request_object(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    # django.request attaches the whole HttpRequest (with its headers and cookies); the
    # request id, method and path are already bound, so the object itself is never logged.
    event_dict.pop("request", None)
    event_dict.pop("scope", None)
    return event_dict


def configure_logging(*, level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and the standard library through one redacting JSON pipeline."""
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False) if fmt == "console" else structlog.processors.JSONRenderer()
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {
                "structured": {
                    "()": structlog.stdlib.ProcessorFormatter,
                    "foreign_pre_chain": [
                        *shared_processors,
                        structlog.stdlib.ExtraAdder(),
                        _drop_django_request_object,
                    ],
                    "processors": [
                        structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                        structlog.processors.format_exc_info,
                        redact_secrets,
                        renderer,
                    ],
                },
            },
            "handlers": {
                "console": {"class": "logging.StreamHandler", "formatter": "structured"},
            },
            "root": {"handlers": ["console"], "level": level},
            "loggers": {
                "django.db.backends": {"level": "INFO"},
                # Daphne's own access lines are replaced by the access log middleware.
                "daphne.access": {"level": "WARNING"},
                "asyncio": {"level": "WARNING"},
            },
        }
    )
    structlog.configure(
        processors=[
            *shared_processors,
            structlog.stdlib.filter_by_level,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
