"""Namespaces as the real control plane keeps them: the initial ones, admission, and their deletion.

Deleting a Namespace marks it ``Terminating``; from then on nothing new may be
created in it (the NamespaceLifecycle admission plugin's 403), its content is
deleted (objects with finalizers wait for them), and the Namespace goes once it
is empty, which is the namespace controller's job on a real cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cloudlb.kubeapi.errors import ApiError
from cloudlb.kubeapi.resources import ResourceType
from cloudlb.kubeapi.writes import WriteOptions

Obj = dict[str, Any]

INITIAL = ("default", "kube-system", "kube-public", "kube-node-lease")
IMMORTAL = frozenset({"default", "kube-system", "kube-public"})
TERMINATING = "Terminating"
NAME_LABEL = "kubernetes.io/metadata.name"


def _forbidden(plural: str, group: str, name: str, reason: str) -> ApiError:
    qualified = f"{plural}.{group}" if group else plural
    message = f'{qualified} "{name}" is forbidden: {reason}' if name else f"{qualified} is forbidden: {reason}"
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return ApiError(403, "Forbidden", message, details)


def terminating(resource: ResourceType, name: str, namespace: str) -> ApiError:
    error = _forbidden(resource.plural, resource.group, name,
                       f"unable to create new content in namespace {namespace} because it is being terminated")
    error.details["causes"] = [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being "
                                "terminated", "field": "metadata.namespace"}]
    return error


def refuse_deleting_immortal(name: str) -> None:
    if name in IMMORTAL:
        raise _forbidden("namespaces", "", name, "this namespace may not be deleted")


class NamespaceAdmission:
    """Defaults of a new Namespace (the ``kubernetes`` finalizer, phase Active, its name label)."""

    def admit(self, new: Obj, old: Obj | None, others: Iterable[Obj], options: WriteOptions) -> None:
        name = new["metadata"]["name"]
        new.setdefault("metadata", {}).setdefault("labels", {})[NAME_LABEL] = name
        if old is None:
            spec = new.setdefault("spec", {})
            spec.setdefault("finalizers", ["kubernetes"])
            new["status"] = {"phase": "Active"}


def initial_namespaces() -> list[Obj]:
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in INITIAL]
