"""Where a load balancer lives: its subnets (and so its VPC), its fixed addresses, and the nodes' groups.

Subnets, Elastic IP addresses and the security groups of instances change
rarely, while every Service and every resync needs them: they are cached in
memory for a few minutes, so that a resync that changes nothing costs no EC2
call for them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from cloudlb.provider import PermanentError
from cloudlb_aws.calls import DESCRIBE_BATCH, Clients, batches, translated_errors
from cloudlb_aws.naming import CLUSTER_TAG_PREFIX, from_tag_list

PUBLIC_ROLE_TAG = "kubernetes.io/role/elb"
INTERNAL_ROLE_TAG = "kubernetes.io/role/internal-elb"
CACHE_SECONDS = 300.0
# Only these can be registered as targets (RegisterTargets refuses stopped and terminated instances),
# as upstream registers only running instances.
TARGET_STATES = ("pending", "running")

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A small thread-safe cache whose entries expire, so that changes in the cloud are seen eventually."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None or found[0] < self._clock():
                return None
            return found[1]

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._items[key] = (self._clock() + self._seconds, value)

    def forget(self, key: K) -> None:
        with self._lock:
            self._items.pop(key, None)


@dataclass(frozen=True)
class Subnet:
    subnet_id: str
    zone: str
    vpc_id: str


@dataclass(frozen=True)
class Placement:
    subnets: tuple[Subnet, ...]

    @property
    def vpc_id(self) -> str:
        return self.subnets[0].vpc_id

    @property
    def subnet_ids(self) -> tuple[str, ...]:
        return tuple(s.subnet_id for s in self.subnets)


def instance_id(provider_id: str) -> str | None:
    """``aws:///us-east-1a/i-0abc`` (or ``aws://us-east-1a/i-0abc``) to ``i-0abc``; None if it is not one."""
    if not provider_id.startswith("aws://"):
        return None
    last = provider_id.rstrip("/").rsplit("/", 1)[-1]
    return last if last.startswith("i-") and len(last) > 2 else None


class PlacementFinder:
    """Subnet discovery and lookups of addresses and instance groups, with their caches."""

    def __init__(self, clients: Clients, cluster: str) -> None:
        self._ec2 = clients.ec2
        self._cluster = cluster
        self._subnets: TTLCache[tuple[bool, tuple[str, ...]], Placement] = TTLCache(CACHE_SECONDS)
        self._addresses: TTLCache[str, str] = TTLCache(CACHE_SECONDS)
        self._instance_groups: TTLCache[str, tuple[str, ...]] = TTLCache(CACHE_SECONDS)

    def placement(self, *, internal: bool, requested: Sequence[str]) -> Placement:
        key = (internal, tuple(requested))
        cached = self._subnets.get(key)
        if cached is not None:
            return cached
        found = self._requested(requested) if requested else self._discovered(internal)
        vpcs = {s.vpc_id for s in found}
        if len(vpcs) > 1:
            raise PermanentError(f"subnets {', '.join(s.subnet_id for s in found)} are in different VPCs")
        placement = Placement(tuple(found))
        self._subnets.put(key, placement)
        return placement

    def _requested(self, requested: Sequence[str]) -> list[Subnet]:
        ids = [r for r in requested if r.startswith("subnet-")]
        names = [r for r in requested if not r.startswith("subnet-")]
        raw: list[Mapping[str, Any]] = []
        with translated_errors("looking up the annotated subnets"):
            if ids:
                raw += self._ec2.describe_subnets(SubnetIds=ids)["Subnets"]
            if names:
                raw += self._ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": names}])["Subnets"]
        known = {str(s["SubnetId"]) for s in raw} | {from_tag_list(s.get("Tags")).get("Name", "") for s in raw}
        missing = [r for r in requested if r not in known]
        if missing:
            raise PermanentError(f"subnets not found: {', '.join(missing)}")
        return sorted({_subnet(s) for s in raw}, key=lambda s: (s.zone, s.subnet_id))

    def _discovered(self, internal: bool) -> list[Subnet]:
        """One subnet per zone with the role tag, preferring those tagged for this cluster.

        Subnets tagged for another cluster only are left alone, as upstream does.
        """
        role = INTERNAL_ROLE_TAG if internal else PUBLIC_ROLE_TAG
        with translated_errors("discovering subnets"):
            paginator = self._ec2.get_paginator("describe_subnets")
            raw = [s for page in paginator.paginate(Filters=[{"Name": "tag-key", "Values": [role]}])
                   for s in page["Subnets"]]
        by_zone: dict[str, tuple[tuple[int, str], Subnet]] = {}
        for item in raw:
            tags = from_tag_list(item.get("Tags"))
            if tags.get(role) not in ("", "1"):
                continue
            cluster_tags = {k for k in tags if k.startswith(CLUSTER_TAG_PREFIX)}
            ours = CLUSTER_TAG_PREFIX + self._cluster in cluster_tags
            if cluster_tags and not ours:
                continue
            subnet = _subnet(item)
            rank = (0 if ours else 1, subnet.subnet_id)
            if subnet.zone not in by_zone or rank < by_zone[subnet.zone][0]:
                by_zone[subnet.zone] = (rank, subnet)
        if not by_zone:
            scheme = "internal" if internal else "internet-facing"
            raise PermanentError(
                f"no subnets for an {scheme} load balancer: tag subnets with {role}=1 and "
                f"{CLUSTER_TAG_PREFIX}{self._cluster}=owned|shared, or list them in "
                "service.beta.kubernetes.io/aws-load-balancer-subnets")
        return [by_zone[zone][1] for zone in sorted(by_zone)]

    def forget_instances(self, instance_ids: Sequence[str]) -> None:
        """Drop cached instances, e.g. after AWS refused one as a target: the next lookup sees its state."""
        for iid in instance_ids:
            self._instance_groups.forget(iid)

    def public_ips(self, allocation_ids: Sequence[str]) -> dict[str, str]:
        """Elastic IP allocation id to public address; an allocation's address never changes."""
        result = {a: ip for a in allocation_ids if (ip := self._addresses.get(a)) is not None}
        missing = [a for a in allocation_ids if a not in result]
        for batch in batches(missing, DESCRIBE_BATCH):
            with translated_errors("looking up Elastic IPs"):
                for address in self._ec2.describe_addresses(AllocationIds=batch)["Addresses"]:
                    allocation, ip = str(address.get("AllocationId", "")), str(address.get("PublicIp", ""))
                    self._addresses.put(allocation, ip)
                    result[allocation] = ip
        return result

    def instance_groups(self, instance_ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        """The security groups of each instance that can be a target (unknown, stopped, terminated: left out)."""
        result: dict[str, tuple[str, ...]] = {}
        missing: list[str] = []
        for iid in instance_ids:
            cached = self._instance_groups.get(iid)
            if cached is None:
                missing.append(iid)
            else:
                result[iid] = cached
        if not missing:
            return result
        with translated_errors("looking up node instances"):
            paginator = self._ec2.get_paginator("describe_instances")
            # A filter, not InstanceIds=: one unknown id must not fail the whole lookup.
            pages = paginator.paginate(Filters=[{"Name": "instance-id", "Values": sorted(missing)}])
            found = [instance for page in pages for reservation in page["Reservations"]
                     for instance in reservation.get("Instances", [])]
        for instance in found:
            if (instance.get("State") or {}).get("Name") not in TARGET_STATES:
                continue  # not a target (now); not cached, so a new lookup re-checks
            groups = tuple(sorted(str(g["GroupId"]) for g in instance.get("SecurityGroups", [])))
            iid = str(instance["InstanceId"])
            self._instance_groups.put(iid, groups)
            result[iid] = groups
        return result


def _subnet(raw: Mapping[str, Any]) -> Subnet:
    return Subnet(subnet_id=str(raw["SubnetId"]), zone=str(raw["AvailabilityZone"]), vpc_id=str(raw["VpcId"]))
