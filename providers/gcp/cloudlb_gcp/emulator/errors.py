"""Errors the emulator answers with, in the Compute API's JSON error shape."""

from __future__ import annotations

import json


class ApiError(Exception):
    """An HTTP error with the ``reason`` the real Compute API puts in ``error.errors[].reason``."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message

    def body(self) -> bytes:
        error = {
            "code": self.status,
            "message": self.message,
            "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
        }
        return json.dumps({"error": error}).encode()


def not_found(what: str) -> ApiError:
    return ApiError(404, "notFound", f"The resource '{what}' was not found")


def already_exists(what: str) -> ApiError:
    return ApiError(409, "alreadyExists", f"The resource '{what}' already exists")


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid", message)


def in_use(what: str, user: str) -> ApiError:
    return ApiError(
        400,
        "resourceInUseByAnotherResource",
        f"The {what} resource is already being used by '{user}'",
    )
