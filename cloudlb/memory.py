"""Keeping the controller's resident memory near what it holds: slim cached objects, freed heap handed back.

A Service as the API server sends it carries ``metadata.managedFields`` (often a third of it) and, when
applied with kubectl, a full copy of itself in the last-applied annotation: the controller reads neither,
and keeps a thousand Services. CPython returns freed objects to glibc, which keeps the pages: after a sweep
or a re-sync parsed thousands of cloud answers, ``malloc_trim`` gives them back to the system.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping
from typing import Any

# kubectl apply's copy of the whole manifest: nothing the controller reads.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def slim_service(service: Mapping[str, Any]) -> dict[str, Any]:
    """The Service without what the controller never reads (managedFields, kubectl's last-applied copy)."""
    metadata = service.get("metadata")
    if not isinstance(metadata, Mapping):
        return dict(service)
    kept = {key: value for key, value in metadata.items() if key != "managedFields"}
    annotations = kept.get("annotations")
    if isinstance(annotations, Mapping) and LAST_APPLIED in annotations:
        kept["annotations"] = {key: value for key, value in annotations.items() if key != LAST_APPLIED}
    return {**service, "metadata": kept}


def release_freed_heap() -> None:
    """Give the heap that freed objects left back to the system (glibc's ``malloc_trim``; elsewhere a no-op)."""
    # The process's own symbols, the C library's among them (no search for the library's file).
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)
