"""The hook through which a provider plugin offers an emulated cloud to ``cloudlb sandbox``.

A plugin that sets ``ProviderPlugin.sandbox`` gives newcomers and plugin
authors a whole load-balancer round trip without a cloud account: the sandbox
calls ``plugin.sandbox(nodes=N, cluster_name=...)``, registers one Node per
returned instance, and runs the controller with ``options`` and ``environment``.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class SandboxInstance:
    """A VM in the emulated cloud that the sandbox registers as a Node."""

    name: str
    provider_id: str  # becomes the Node's spec.providerID
    zone: str
    internal_ip: str


class SandboxCloud(abc.ABC):
    """A running emulated cloud; ``close`` stops every server and thread it started."""

    instances: Sequence[SandboxInstance]
    # Provider options (by ProviderOption.name) and environment variables the
    # controller needs to talk to this emulated cloud.
    options: Mapping[str, str]
    environment: Mapping[str, str]
    # For the sandbox's extra demo Services: annotations that make them work in this cloud.
    endpoint: str

    @abc.abstractmethod
    def leftovers(self) -> Sequence[str]:
        """Every load-balancing resource still in the cloud, as readable names (empty when clean)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop the emulated cloud; idempotent."""

    def __enter__(self) -> SandboxCloud:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
