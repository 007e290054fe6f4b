"""The controller's settings, gathered from the command line in one explicit object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_CLASS_PREFIX = "cloudlb.io/"


@dataclass(frozen=True)
class ControllerConfig:
    provider: str
    cluster_name: str
    load_balancer_class: str = ""  # empty: cloudlb.io/<provider>
    ignore_unclassed: bool = False
    workers: int = 4
    metrics_port: int = 9090  # 0: no metrics endpoint
    health_port: int = 8080  # 0: no liveness endpoint
    peering: str = "cloudlb"
    standalone: bool = False
    # How often a replica re-reads the peering object to learn whether it is the active one.
    peering_poll_interval: float = 5.0
    # The fast sweep (list calls, drift repair) and the deep one (per-resource reads such as target health).
    resync_interval: float = 600.0
    deep_resync_interval: float = 6 * 3600.0
    gc_interval: float = 600.0
    # Garbage collection waits this long after start so that the Service cache is complete.
    gc_initial_delay: float = 60.0
    backoff_base: float = 1.0
    backoff_cap: float = 300.0
    # How long a failure caused by the cloud's state (a quota, a resource in use) waits before the next try.
    cloud_state_retry: float = 120.0
    # Groups of namespaces whose Services may share load balancers: "team-a,team-b;x,y".
    share_namespaces: str = ""
    provider_options: Mapping[str, str | None] = field(default_factory=dict)
    # For tests and the sandbox: talk to this API server URL instead of logging in.
    api_server: str | None = None

    @property
    def effective_class(self) -> str:
        return self.load_balancer_class or f"{DEFAULT_CLASS_PREFIX}{self.provider}"
