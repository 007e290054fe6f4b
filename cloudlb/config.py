"""The controller's settings, gathered from the command line in one explicit object."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_CLASS_PREFIX = "cloudlb.io/"


@dataclass(frozen=True)
class LeaseTimings:
    """client-go's ``LeaderElectionConfig`` timings, in seconds, with its rules.

    The lease duration and renew deadline are shorter than client-go's 15 s / 10 s: a standby takes over
    one lease duration after the leader's last renewal, and with 15 s a dead leader's Services went
    unserved for 16-18 s in the chaos run; 10 s / 8 s keeps that under 15 s and still tolerates four
    failed renewals in a row before a live leader steps down.
    """

    lease_duration: float = 10.0
    renew_deadline: float = 8.0
    retry_period: float = 2.0

    def __post_init__(self) -> None:
        if not self.lease_duration > self.renew_deadline:
            raise ValueError("the lease duration must be greater than the renew deadline")
        if not self.renew_deadline > 1.2 * self.retry_period:  # client-go's JitterFactor
            raise ValueError("the renew deadline must be greater than 1.2 times the retry period")
        if not self.retry_period > 0:
            raise ValueError("the retry period must be greater than zero")

    @property
    def observation_lag(self) -> float:
        """How much earlier than its own first sight a standby may count a renewal (see cloudlb.leadership)."""
        return min(self.retry_period, self.lease_duration - self.renew_deadline)

    @property
    def request_timeout(self) -> float:
        """One lease request may take this long: a renewal must not outlast the renew deadline."""
        return self.renew_deadline / 2


@dataclass(frozen=True)
class LeaderElection:
    """Which Lease the replicas compete for (``--leader-elect-*``, as kube-controller-manager names them).

    ``explicit``: the user named the lease, so a lease that cannot exist (no such
    namespace, no leases served) stops the controller instead of letting it run alone.
    """

    enabled: bool = True
    lease_name: str = "cloudlb"
    lease_namespace: str = ""  # empty: the controller's own namespace
    timings: LeaseTimings = field(default_factory=LeaseTimings)
    identity: str = ""  # empty: the pod's name (see cloudlb.operator.own_identity)
    explicit: bool = False


@dataclass(frozen=True)
class ControllerConfig:
    provider: str
    cluster_name: str
    load_balancer_class: str = ""  # empty: cloudlb.io/<provider>
    # Services without a loadBalancerClass are served only when asked: on EKS, GKE or beside any
    # cloud-controller-manager they belong to the built-in controller.
    serve_unclassed: bool = False
    workers: int = 4
    metrics_port: int = 9090  # 0: no metrics endpoint
    health_port: int = 8080  # 0: no /healthz and /readyz endpoint
    leader_election: LeaderElection = field(default_factory=LeaderElection)
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
