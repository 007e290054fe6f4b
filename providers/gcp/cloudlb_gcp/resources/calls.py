"""Reading, writing and deleting one resource, with errors translated and operations awaited."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from google.api_core import exceptions as api
from google.cloud import compute_v1

from cloudlb_gcp.compute import Compute
from cloudlb_gcp.errors import calling

T = TypeVar("T")


def read(doing: str, call: Callable[[], T]) -> T | None:
    """The resource, or None when it does not exist."""
    with calling(doing):
        try:
            return call()
        except api.NotFound:
            return None


def write(compute: Compute, doing: str, call: Callable[[], compute_v1.Operation]) -> None:
    with calling(doing):
        operation = call()
    compute.wait(operation, doing)


def delete(compute: Compute, doing: str, call: Callable[[], compute_v1.Operation]) -> None:
    """Delete and wait; a resource that is already gone is fine."""
    with calling(doing):
        try:
            operation = call()
        except api.NotFound:
            return
    compute.wait(operation, doing)
