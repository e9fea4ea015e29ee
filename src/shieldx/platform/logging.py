"""Structured JSON logs (structlog) with request ids, and secrets kept out."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, BinaryIO, TextIO

import orjson
import structlog

from shieldx.config import LoggingSettings

_SECRET_KEYS = re.compile(
    r"(authorization|password|passwd|secret|token|api_key|apikey|card_number|card_token|cvv|"
    r"private_key|cookie|encryption_key)",
    re.IGNORECASE,
)
# Platform API keys and JWT-shaped strings are redacted wherever they appear in a value.
_SECRET_VALUES = re.compile(
    r"shx_[0-9a-f]{12}_[A-Za-z0-9_-]{43}|eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"
)
REDACTED = "[redacted]"


_secret_key_memo: dict[str, bool] = {}


def _is_secret_key(key: str) -> bool:
    # Field names repeat endlessly (every access-log line has the same ones): remember the
    # verdict instead of running the regex per line. Bounded, so odd names cannot grow it.
    verdict = _secret_key_memo.get(key)
    if verdict is None:
        verdict = _SECRET_KEYS.search(key) is not None
        if len(_secret_key_memo) < 4096:
            _secret_key_memo[key] = verdict
    return verdict


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        # The substring tests are a cheap pre-filter; the regex runs only on candidates.
        if "shx_" in value or "eyJ" in value:
            return _SECRET_VALUES.sub(REDACTED, value)
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret_key(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask secret-named fields and key/token-shaped values."""
    for key, value in event_dict.items():
        if _is_secret_key(key):
            event_dict[key] = REDACTED
        elif not isinstance(value, int | float | bool | None):
            event_dict[key] = _scrub(value)
    return event_dict


def configure_logging(settings: LoggingSettings, log_file: Path | None = None) -> None:
    """Configure structlog, and route the standard library's records (uvicorn's) through it.

    Logs go to standard error, or appended to LOG_FILE when one is given.
    """
    level = getattr(logging, settings.level.upper())
    binary: BinaryIO = sys.stderr.buffer
    text: TextIO = sys.stderr
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        # Open for the life of the process: every line of the log goes through it.
        binary = log_file.open("ab", buffering=0)
        text = io.TextIOWrapper(binary, encoding="utf-8", line_buffering=True, write_through=True)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    json_output = settings.format == "json"
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dump_bytes)
            if json_output
            else _console(),
        ],
        # Bytes straight to stderr: the access log is on the hot path, so no stdlib detour.
        logger_factory=structlog.BytesLoggerFactory(binary)
        if json_output
        else structlog.PrintLoggerFactory(text),
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Not cached: a cached module-level logger would keep the first configuration's level
        # and stream forever (measured: no difference in the cost of a line).
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(serializer=_dump_str) if json_output else _console(),
        ],
    )
    handler = logging.StreamHandler(text)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Alembic narrates every connection it inspects; only migrations themselves are news.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # The platform writes its own access log with request ids; uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True


def _dump_bytes(obj: Any, **_: Any) -> bytes:
    return orjson.dumps(obj, default=str)


def _dump_str(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


def _console() -> structlog.dev.ConsoleRenderer:
    """The human-readable renderer, with plain tracebacks.

    structlog's default with rich installed prints every frame's local variables: that can
    put a secret (a key, a token, a decrypted value) into the log, and rendering large
    objects took seconds per error under load.
    """
    return structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )
