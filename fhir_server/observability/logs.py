"""Structured logs: one JSON object per line on stderr, with no PHI in them.

What keeps PHI out:

* only whitelisted ``extra`` fields are written (``LOG_FIELDS``); anything else a caller attaches
  is dropped, so ``extra={"patient": ...}`` cannot leak;
* exceptions are written as their type and stack frames, never their message (driver errors such as
  a duplicate-key error quote the offending values);
* a filter replaces anything that looks like a credential (``scrub_credentials``);
* libraries that log URLs, commands or request bodies at low levels (pymongo, httpx, botocore) are
  held at WARNING whatever the configured level, and uvicorn's own access log (raw path and query
  string) is silenced: the access log of ``ObservabilityMiddleware`` replaces it.
"""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import orjson

from fhir_server.observability.request_id import current_request_id
from fhir_server.observability.scrub import scrub_credentials

if TYPE_CHECKING:
    from fhir_server.settings import Settings

# The structured fields a log line may carry besides time, level, logger and message.
LOG_FIELDS: Final = (
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
    "interaction",
    "resource_type",
    "client_id",
    "check",
    "error_type",
)

# Loggers that write URLs with query strings, database commands or HTTP bodies below WARNING.
_HELD_AT_WARNING: Final = ("pymongo", "httpx", "httpcore", "botocore", "boto3", "urllib3", "s3transfer")
_UVICORN_ACCESS: Final = "uvicorn.access"
_MAX_STACK_FRAMES: Final = 30


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object (``time``, ``level``, ``logger``, ``message`` + fields)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in LOG_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                line[field] = value
        if "request_id" not in line and (request_id := current_request_id.get()) is not None:
            line["request_id"] = request_id
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = _qualified_name(record.exc_info[0])
            line["exc_frames"] = _frames(record.exc_info[2])
        return orjson.dumps(line, default=str).decode()


def _qualified_name(cls: type[BaseException]) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _frames(tb: Any) -> list[str]:
    summary = traceback.extract_tb(tb)[-_MAX_STACK_FRAMES:]
    return [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in summary]


class CredentialScrubFilter(logging.Filter):
    """Replace token-looking text in the rendered message (defence in depth; never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break the caller
            message = f"unformattable log message from {record.pathname}:{record.lineno}"
        record.msg = scrub_credentials(message)
        record.args = None
        return True


class _DropAll(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


class JsonStderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (so captured stderr in tests works too)."""

    terminator: Final = "\n"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            stream = sys.stderr
            stream.write(line + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def _level_from(name: str) -> tuple[int, bool]:
    level = logging.getLevelNamesMapping().get(name.strip().upper())
    return (logging.INFO, False) if level is None else (level, True)


def configure_logging(settings: Settings) -> None:
    """Send every log record to stderr as JSON at ``settings.log_level``. Safe to call again."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, JsonStderrHandler)]:
        root.removeHandler(handler)
    handler = JsonStderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CredentialScrubFilter())
    root.addHandler(handler)
    level, known = _level_from(settings.log_level)
    root.setLevel(level)
    for name in _HELD_AT_WARNING:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    _route_uvicorn_loggers()
    if not known:
        logging.getLogger(__name__).warning("unknown log level %r, using INFO", settings.log_level)


def _route_uvicorn_loggers() -> None:
    # uvicorn's default config gives its loggers their own plain-text handlers; send them to ours.
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access = logging.getLogger(_UVICORN_ACCESS)
    access.handlers.clear()
    access.propagate = False
    # A logger filter survives a later dictConfig by uvicorn (it replaces handlers, not filters).
    if not any(isinstance(f, _DropAll) for f in access.filters):
        access.addFilter(_DropAll())
