"""The catalogue of resources the emulated API server serves, and how each behaves.

Discovery, the store and the Table printer all read this one catalogue, so a
resource is added in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ALL_VERBS: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")
STATUS_VERBS: tuple[str, ...] = ("get", "patch", "update")


@dataclass(frozen=True)
class ResourceType:
    """One served resource (group, version, plural) and its server-side behaviour."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    # Subresources listed in discovery; `status` is isolated from the main resource.
    subresources: tuple[str, ...] = ()
    # Real servers bump metadata.generation on spec changes only for some kinds.
    tracks_generation: bool = False
    # Services and CRDs drop a client-supplied status on create; Nodes keep theirs.
    resets_status_on_create: bool = False
    categories: tuple[str, ...] = field(default=())
    # How object names are validated: most kinds take DNS-1123 subdomains, Services DNS-1035 labels
    # (they become DNS names) and Namespaces DNS-1123 labels.
    name_rule: Literal["subdomain", "label", "dns1035"] = "subdomain"

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def has_status(self) -> bool:
        return "status" in self.subresources

    @property
    def expires(self) -> bool:
        """Events expire (kube-apiserver's --event-ttl); nothing else does."""
        return self.kind == "Event"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


CORE_RESOURCES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
                 subresources=("status",), name_rule="label"),
    ResourceType("", "v1", "services", "Service", namespaced=True, short_names=("svc",),
                 subresources=("status",), tracks_generation=True, resets_status_on_create=True,
                 categories=("all",), name_rule="dns1035"),
    ResourceType("", "v1", "nodes", "Node", namespaced=False, short_names=("no",), subresources=("status",)),
    ResourceType("", "v1", "events", "Event", namespaced=True, short_names=("ev",)),
    # Served (empty unless someone writes them) because `kubectl describe svc` looks them up.
    ResourceType("", "v1", "endpoints", "Endpoints", namespaced=True, short_names=("ep",)),
    # Stored and served; no controller writes them from Pods (the sandbox has none): users, tests and
    # controllers that need IP targets write them, and list/watch them by `kubernetes.io/service-name`.
    ResourceType("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", namespaced=True),
    # The walkthrough's `kubectl create deployment`: stored, defaulted and validated; no controller runs
    # them (the Deployment's own Progressing condition says so), and `kubectl describe` finds its
    # ReplicaSets (none) where it looks for them.
    ResourceType("apps", "v1", "deployments", "Deployment", namespaced=True, short_names=("deploy",),
                 subresources=("status",), tracks_generation=True, resets_status_on_create=True,
                 categories=("all",)),
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", namespaced=True, short_names=("rs",),
                 subresources=("status",), tracks_generation=True, resets_status_on_create=True,
                 categories=("all",)),
    # No short name: `ev` stays unambiguous for kubectl (it means core v1 Events).
    ResourceType("events.k8s.io", "v1", "events", "Event", namespaced=True),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", namespaced=True),
    ResourceType("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
                 namespaced=False, short_names=("crd", "crds"), subresources=("status",),
                 tracks_generation=True, resets_status_on_create=True),
    ResourceType("kopf.dev", "v1", "clusterkopfpeerings", "ClusterKopfPeering", namespaced=False,
                 tracks_generation=True),
    ResourceType("kopf.dev", "v1", "kopfpeerings", "KopfPeering", namespaced=True, tracks_generation=True),
)


class Catalogue:
    """Lookup of served resources by (group, version, plural)."""

    def __init__(self, resources: tuple[ResourceType, ...] = CORE_RESOURCES) -> None:
        self._by_key = {(r.group, r.version, r.plural): r for r in resources}

    @property
    def all(self) -> list[ResourceType]:
        return list(self._by_key.values())

    def find(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_key.get((group, version, plural))

    def group_versions(self) -> dict[str, list[str]]:
        """Non-core groups with their versions, in catalogue order."""
        groups: dict[str, list[str]] = {}
        for resource in self._by_key.values():
            if resource.group and resource.version not in groups.setdefault(resource.group, []):
                groups[resource.group].append(resource.version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [r for r in self._by_key.values() if r.group == group and r.version == version]
