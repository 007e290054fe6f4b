"""Kubernetes API errors rendered as real ``Status`` objects.

Clients (client-go, kopf) decide what to do from ``code`` and ``reason``; kubectl
prints ``message``. Keeping the three consistent with the real API server is what
makes retries, conflicts and validation errors behave the same against the emulator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldCause:
    """One invalid field, as listed in ``Status.details.causes``."""

    field: str
    message: str
    reason: str = "FieldValueInvalid"

    def as_dict(self) -> dict[str, str]:
        return {"reason": self.reason, "message": self.message, "field": self.field}


@dataclass
class ApiError(Exception):
    """An error the API server answers with a ``Status`` body and an HTTP code."""

    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.code} {self.reason}: {self.message}"

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _qualified(kind: str, group: str) -> str:
    """``services`` in the core group, ``leases.coordination.k8s.io`` elsewhere, as messages name them."""
    return f"{kind}.{group}" if group else kind


def _details(kind: str, name: str, group: str = "") -> dict[str, Any]:
    details: dict[str, Any] = {"name": name, "kind": kind}
    if group:
        details["group"] = group
    return details


def not_found(plural: str, name: str, group: str = "") -> ApiError:
    return ApiError(404, "NotFound", f'{_qualified(plural, group)} "{name}" not found', _details(plural, name, group))


def already_exists(plural: str, name: str, group: str = "") -> ApiError:
    return ApiError(409, "AlreadyExists", f'{_qualified(plural, group)} "{name}" already exists',
                    _details(plural, name, group))


def conflict(plural: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": '
        "the object has been modified; please apply your changes to the latest version and try again",
        _details(plural, name, group),
    )


def invalid(kind: str, name: str, causes: list[FieldCause], group: str = "") -> ApiError:
    """422 Invalid with one cause per field, in the real server's message format."""
    listed = ", ".join(f"{cause.field}: {cause.message}" for cause in causes)  # Go's aggregate error
    what = _qualified(kind, group)
    message = f'{what} "{name}" is invalid: {listed}' if len(causes) == 1 else (
        f'{what} "{name}" is invalid: [{listed}]'
    )
    details = _details(kind, name, group)
    details["causes"] = [cause.as_dict() for cause in causes]
    return ApiError(422, "Invalid", message, details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def unsupported_media_type(accepted: Iterable[str]) -> ApiError:
    return ApiError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - "
                    f"accepted media types include: {', '.join(accepted)}")


def no_such_path() -> ApiError:
    """The 404 for a URL that names no served resource, group or endpoint."""
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed",
                    f"the server does not allow this method on the requested resource: {method}")


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)
