"""Where a load balancer lives: its subnets, chosen without I/O from the subnets the inventory holds. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cloudlb.provider import PermanentError
from cloudlb_aws.naming import CLUSTER_TAG_PREFIX
from cloudlb_aws.records import Subnet

PUBLIC_ROLE_TAG = "kubernetes.io/role/elb"
INTERNAL_ROLE_TAG = "kubernetes.io/role/internal-elb"
# Only these can be registered as targets (RegisterTargets refuses stopped and terminated instances),
# as upstream registers only running instances.
TARGET_STATES = ("pending", "running")


def instance_id(provider_id: str) -> str | None:
    """``aws:///us-east-1a/i-0abc`` (or ``aws://us-east-1a/i-0abc``) to ``i-0abc``; None if it is not one."""
    if not provider_id.startswith("aws://"):
        return None
    last = provider_id.rstrip("/").rsplit("/", 1)[-1]
    return last if last.startswith("i-") and len(last) > 2 else None


def discovered(subnets: Sequence[Subnet], internal: bool, cluster: str) -> tuple[Subnet, ...]:
    """One subnet per zone with the role tag, preferring those tagged for this cluster.

    Subnets tagged for another cluster only are left alone, as upstream does.
    """
    role = INTERNAL_ROLE_TAG if internal else PUBLIC_ROLE_TAG
    by_zone: dict[str, tuple[tuple[int, str], Subnet]] = {}
    for subnet in subnets:
        tags = dict(subnet.tags)
        if role not in tags or tags[role] not in ("", "1"):
            continue
        cluster_tags = {k for k in tags if k.startswith(CLUSTER_TAG_PREFIX)}
        ours = CLUSTER_TAG_PREFIX + cluster in cluster_tags
        if cluster_tags and not ours:
            continue
        rank = (0 if ours else 1, subnet.subnet_id)
        if subnet.zone not in by_zone or rank < by_zone[subnet.zone][0]:
            by_zone[subnet.zone] = (rank, subnet)
    if not by_zone:
        scheme = "internal" if internal else "internet-facing"
        raise PermanentError(
            f"no subnets for an {scheme} load balancer: tag subnets with {role}=1 and "
            f"{CLUSTER_TAG_PREFIX}{cluster}=owned|shared, or list them in "
            "service.beta.kubernetes.io/aws-load-balancer-subnets")
    return _one_vpc(tuple(by_zone[zone][1] for zone in sorted(by_zone)))


def requested(found: Mapping[str, Subnet | None], wanted: Sequence[str]) -> tuple[Subnet, ...]:
    """The annotated subnets, as looked up by id or Name tag."""
    missing = [w for w in wanted if found.get(w) is None]
    if missing:
        raise PermanentError(f"subnets not found: {', '.join(missing)}")
    chosen = {subnet for w in wanted if (subnet := found[w]) is not None}
    return _one_vpc(tuple(sorted(chosen, key=lambda s: (s.zone, s.subnet_id))))


def _one_vpc(subnets: tuple[Subnet, ...]) -> tuple[Subnet, ...]:
    if len({s.vpc_id for s in subnets}) > 1:
        raise PermanentError(f"subnets {', '.join(s.subnet_id for s in subnets)} are in different VPCs")
    return subnets
