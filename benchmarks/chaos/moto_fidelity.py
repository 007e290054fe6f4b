"""Where moto 5 differs from AWS in a way that only lost responses reveal, made to answer as AWS does.

ELBv2 ``CreateLoadBalancer`` and ``CreateTargetGroup`` are idempotent on AWS: "If you attempt to
create multiple load balancers [target groups] with the same settings, each call succeeds" (and
returns the existing one); the same name with other settings is ``DuplicateLoadBalancerName`` /
``DuplicateTargetGroupName``. moto instead creates a *second* network load balancer of the same
name (its ARN carries a random id, so its duplicate check never fires), and refuses a target
group of the same name even with the same settings. When the chaos run drops the response of an
executed create and botocore retries it, moto would show a duplicate load balancer that AWS
never makes: a leak of the emulator, not of the controller. Applied in the cloud's own process.
"""

from __future__ import annotations

from typing import Any

from moto.elbv2.exceptions import DuplicateLoadBalancerName, DuplicateTargetGroupName
from moto.elbv2.models import ELBv2Backend

_applied = False


def apply() -> None:
    global _applied  # noqa: PLW0603 - patch the class once per process
    if _applied:
        return
    _applied = True
    create_load_balancer = ELBv2Backend.create_load_balancer
    create_target_group = ELBv2Backend.create_target_group

    def idempotent_load_balancer(self: ELBv2Backend, name: str, *args: Any, **kwargs: Any) -> Any:
        existing = next((lb for lb in self.load_balancers.values() if lb.name == name), None)
        if existing is None:
            return create_load_balancer(self, name, *args, **kwargs)
        scheme = kwargs.get("scheme") or "internet-facing"
        kind = kwargs.get("loadbalancer_type") or "application"
        if (existing.scheme or "internet-facing") == scheme and existing.type == kind:
            return existing
        raise DuplicateLoadBalancerName()

    def idempotent_target_group(self: ELBv2Backend, name: str, **kwargs: Any) -> Any:
        existing = next((g for g in self.target_groups.values() if g.name == name), None)
        if existing is None:
            return create_target_group(self, name, **kwargs)
        same = (str(kwargs.get("protocol")) == str(existing.protocol) and str(kwargs.get("port")) == str(existing.port)
                and kwargs.get("vpc_id") == existing.vpc_id)
        if same:
            return existing
        raise DuplicateTargetGroupName()

    ELBv2Backend.create_load_balancer = idempotent_load_balancer  # type: ignore[method-assign]
    ELBv2Backend.create_target_group = idempotent_target_group  # type: ignore[method-assign]
