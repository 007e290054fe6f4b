"""The log formats, the per-Service line for the reconciler, and the levels ``configure`` sets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from cloudlb import logs
from cloudlb.model import ServiceRef
from cloudlb.redaction import REDACTED, register_secret

WEB = ServiceRef("default", "web")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``configure`` changes process-wide logging; put it back for the other tests."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in (*logs.THIRD_PARTY, "py.warnings")}
    yield
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)
    for name, level in saved_levels.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)


def record(message: str, *args: object, level: int = logging.INFO, extra: dict[str, object] | None = None,
           exc_info: BaseException | None = None) -> logging.LogRecord:
    made = logging.getLogger("cloudlb.test").makeRecord(
        "cloudlb.test", level, __file__, 1, message, args,
        (type(exc_info), exc_info, exc_info.__traceback__) if exc_info else None, extra=extra)
    return made


def test_json_lines_carry_the_structured_fields() -> None:
    line = json.loads(logs.JsonFormatter().format(record("%s: ensured", WEB, extra=logs.service_fields(
        WEB, action="ensure", outcome="succeeded", duration_seconds=0.5))))
    assert line["level"] == "info" and line["logger"] == "cloudlb.test"
    assert line["message"] == "default/web: ensured"
    assert line["time"].endswith("Z")
    assert {key: line[key] for key in ("service", "namespace", "name", "action", "outcome", "duration_seconds")} == {
        "service": "default/web", "namespace": "default", "name": "web", "action": "ensure",
        "outcome": "succeeded", "duration_seconds": 0.5}


def test_plain_extra_keys_are_fields_too_but_library_objects_are_not() -> None:
    made = record("garbage-collecting", extra={"service": "default/web", "action": "garbage-collect",
                                                "k8s_ref": {"name": "web"}, "settings": object()})
    line = json.loads(logs.JsonFormatter().format(made))
    assert (line["service"], line["action"], line["k8s_ref"]) == ("default/web", "garbage-collect", {"name": "web"})
    assert "settings" not in line and "args" not in line and "msg" not in line


def test_both_formats_redact_message_fields_and_exception_text() -> None:
    register_secret("planted-secret-for-logs")
    try:
        raise RuntimeError("failed with planted-secret-for-logs")
    except RuntimeError as exc:
        failure = exc
    made = record("token=%s", "abc-opaque-token", extra=logs.fields(detail="planted-secret-for-logs"),
                  exc_info=failure)
    text = logs.TextFormatter().format(made)
    parsed = json.loads(logs.JsonFormatter().format(made))
    for output in (text, json.dumps(parsed)):
        assert "planted-secret-for-logs" not in output and "abc-opaque-token" not in output
    assert parsed["detail"] == REDACTED
    assert "RuntimeError" in parsed["message"] and "Traceback" in text


def test_service_line_text_and_fields(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("cloudlb.test.reconciler")
    with caplog.at_level(logging.INFO, logger="cloudlb.test.reconciler"):
        logs.service_line(logger, WEB, action="ensure", outcome="succeeded", seconds=0.8412, address="192.0.2.7")
        logs.service_line(logger, WEB, action="ensure", outcome="failed", seconds=1.5, error_code="Throttling",
                          detail="Rate exceeded")
    done, failed = caplog.records
    assert done.getMessage() == "default/web: ensure succeeded in 0.84s, address 192.0.2.7"
    assert done.levelno == logging.INFO
    assert failed.getMessage() == "default/web: ensure failed in 1.50s [Throttling]: Rate exceeded"
    assert failed.levelno == logging.WARNING
    fields = json.loads(logs.JsonFormatter().format(failed))
    assert fields["error_code"] == "Throttling" and fields["duration_seconds"] == 1.5 and "address" not in fields


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(("level", "library_level"), [(logs.LogLevel.INFO, logging.WARNING),
                                                      (logs.LogLevel.DEBUG, logging.DEBUG),
                                                      (logs.LogLevel.ERROR, logging.ERROR)])
def test_libraries_stay_at_warning_unless_debugging(level: logs.LogLevel, library_level: int) -> None:
    stream = io.StringIO()
    logs.configure(level, logs.LogFormat.JSON, stream)
    for name in ("botocore", "urllib3", "kopf", "google"):
        assert logging.getLogger(name).getEffectiveLevel() == library_level
    assert logging.getLogger("cloudlb.reconciler").getEffectiveLevel() == level.number
    logging.getLogger("kopf.objects").info("Handler 'service_event' succeeded.")
    logging.getLogger("cloudlb.reconciler").error("visible")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == (["Handler 'service_event' succeeded.", "visible"]
                                                   if level is logs.LogLevel.DEBUG else ["visible"])
