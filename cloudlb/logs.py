"""The controller's log output: text or JSON lines on stderr, quiet libraries, never a credential.

``configure`` is called once by ``cloudlb run``. Every record, the controller's
and the libraries', goes through one handler whose formatter redacts secrets
(see ``cloudlb.redaction``) from the finished text, exception included.

Third-party loggers (botocore, urllib3, google-auth, aiohttp, kopf's
per-handler chatter) stay at WARNING unless the level is ``debug``: at INFO an
operator reads cloudlb's own lines, one per action.

Structured fields: pass ``extra={"service": ..., "action": ...}`` or
``extra=fields(...)`` (or use ``service_line``) and the JSON format emits them as
top-level keys; the text format shows the message only.
"""

from __future__ import annotations

import datetime
import enum
import json
import logging
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from cloudlb.model import ServiceRef
from cloudlb.redaction import REDACTOR, redact

# The attribute of a LogRecord that carries structured fields (one attribute, so no LogRecord name is shadowed).
FIELDS_ATTRIBUTE = "cloudlb_fields"
# What every LogRecord has; anything else on a record came from ``extra=`` and is emitted as a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", FIELDS_ATTRIBUTE}
_JSON_SCALARS = (str, int, float, bool)
# Loggers of the libraries the controller uses: they log requests and handler runs at INFO/DEBUG.
THIRD_PARTY = ("botocore", "boto3", "s3transfer", "urllib3", "google", "google_auth_httplib2", "grpc",
               "aiohttp", "asyncio", "kopf", "kmock", "werkzeug", "moto")


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def number(self) -> int:
        return int(logging.getLevelName(self.value.upper()))


def fields(**values: object) -> dict[str, Any]:
    """``extra=`` for a log call: the JSON format emits ``values`` (None ones left out) as fields."""
    return {FIELDS_ATTRIBUTE: {key: value for key, value in values.items() if value is not None}}


def service_fields(ref: ServiceRef, **values: object) -> dict[str, Any]:
    """``extra=`` for a log call about one Service: its namespace and name, plus ``values``."""
    return fields(service=str(ref), namespace=ref.namespace, name=ref.name, **values)


def service_line(logger: logging.Logger, ref: ServiceRef, *, action: str, outcome: str,
                 seconds: float | None = None, address: str | None = None, error_code: str | None = None,
                 detail: str | None = None, level: int | None = None) -> None:
    """One line about one action on one Service, e.g. ``default/web: ensure succeeded in 0.84s, address 1.2.3.4``.

    ``action``: what was done (ensure, update-backends, delete, skip...); ``outcome``: how it ended
    (succeeded, failed, retrying...); ``error_code``: the cloud's or our error code on a failure;
    ``detail``: the rest of the story (an error message). The level defaults to INFO, WARNING with an error code.
    """
    text = f"{ref}: {action} {outcome}"
    if seconds is not None:
        text += f" in {seconds:.2f}s"
    if address:
        text += f", address {address}"
    if error_code:
        text += f" [{error_code}]"
    if detail:
        text += f": {detail}"
    chosen = level if level is not None else (logging.WARNING if error_code else logging.INFO)
    logger.log(chosen, "%s", text, extra=service_fields(
        ref, action=action, outcome=outcome, duration_seconds=None if seconds is None else round(seconds, 3),
        address=address or None, error_code=error_code or None))


def _timestamp(record: logging.LogRecord) -> str:
    moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _RedactingFormatter(logging.Formatter):
    """Formats the message and any exception into one text, with secrets taken out."""

    def message_of(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return redact(text)


class TextFormatter(_RedactingFormatter):
    """``2026-11-28T12:00:00.123Z INFO cloudlb.reconciler: default/web: ensure succeeded in 0.84s``."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{_timestamp(record)} {record.levelname} {record.name}: {self.message_of(record)}"


class JsonFormatter(_RedactingFormatter):
    """One JSON object per line: time, level, logger, message, then the record's structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {"time": _timestamp(record), "level": record.levelname.lower(),
                                "logger": record.name, "message": self.message_of(record)}
        extra = dict(getattr(record, FIELDS_ATTRIBUTE, None) or {})
        # Plain ``extra=`` keys too; objects a library attaches (kopf's settings, say) are not fields.
        extra.update({key: value for key, value in vars(record).items()
                      if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and _is_json_value(value)})
        for key, value in extra.items():
            if key not in line:
                line[key] = _redacted_value(value)
        return json.dumps(line, default=str, ensure_ascii=False)


def _is_json_value(value: object) -> bool:
    if value is None or isinstance(value, _JSON_SCALARS):
        return True
    if isinstance(value, Mapping):
        return all(isinstance(key, str) and _is_json_value(item) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_json_value(item) for item in value)
    return False


def _redacted_value(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(key): _redacted_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted_value(item) for item in value]
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return redact(str(value))


def configure(level: LogLevel, log_format: LogFormat, stream: TextIO | None = None) -> None:
    """Route every logger to one redacting handler on ``stream`` (stderr), at the levels described above."""
    REDACTOR.register_environment(os.environ)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format is LogFormat.JSON else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.number)
    libraries = level.number if level is LogLevel.DEBUG else max(level.number, logging.WARNING)
    for name in THIRD_PARTY:
        logging.getLogger(name).setLevel(libraries)
    # Python's warnings (libraries' deprecation notices) become log records, formatted and redacted like the
    # rest, and shown only when debugging: they are for developers, not for the operator of a running controller.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.DEBUG if level is LogLevel.DEBUG else logging.ERROR)
