"""Transitional: contract v2 for a provider that still converges one whole Service per call.

Lets a provider move to observe / plan / apply in steps while the controller
already speaks contract v2: its plan is one opaque "converge" change, its
sweep reports every owned load balancer as possibly drifted (a full re-sync,
as before contract v2). To be removed once every in-tree provider plans by
resource.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence

from cloudlb.changes import Action, Change, ChangePlan
from cloudlb.model import DesiredLoadBalancer, LoadBalancerKey, LoadBalancerSpec, LoadBalancerStatus, ServiceRef
from cloudlb.provider import PermanentError, Provider, Statuses, SweepResult


class WholeServiceProvider(Provider[None]):
    """A provider whose ``ensure_service`` / ``delete_service`` do observe, diff and write in one go."""

    @abc.abstractmethod
    def ensure_service(self, spec: LoadBalancerSpec) -> LoadBalancerStatus:
        """Create or converge one Service's load balancer; idempotent."""

    @abc.abstractmethod
    def delete_service(self, service: ServiceRef) -> None:
        """Remove everything of the Service that carries our mark; missing parts are fine."""

    @abc.abstractmethod
    def owned_services(self) -> Sequence[ServiceRef]:
        """Every Service of this cluster that has cloud resources."""

    def observe(self, keys: Sequence[LoadBalancerKey]) -> Mapping[LoadBalancerKey, None]:
        return dict.fromkeys(keys)

    def plan(self, key: LoadBalancerKey, desired: DesiredLoadBalancer | None, observed: None) -> ChangePlan:
        if desired is None:
            return ChangePlan(key, (Change(Action.DELETE, "load-balancer", str(key), "not wanted"),))
        return ChangePlan(key, (Change(Action.UPDATE, "load-balancer", str(key), "converge", payload=desired),))

    def apply(self, plan: ChangePlan) -> Statuses:
        statuses: dict[ServiceRef, LoadBalancerStatus] = {}
        for change in plan.changes:
            if change.action is Action.DELETE:
                if plan.key.service is not None:
                    self.delete_service(plan.key.service)
                continue
            desired: DesiredLoadBalancer = change.payload
            if len(desired.members) != 1:
                raise PermanentError("this provider cannot share a load balancer between Services")
            statuses[desired.first.service] = self.ensure_service(desired.first)
        return statuses

    def sweep(self, *, deep: bool = False) -> SweepResult:
        owned = {LoadBalancerKey.of(service): frozenset({service}) for service in self.owned_services()}
        return SweepResult(drifted=frozenset(owned), owned=owned)
