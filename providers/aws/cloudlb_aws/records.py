"""The AWS resources cloudlb manages, as normalized frozen records. Pure.

Each record holds exactly what a plan compares, read from an AWS answer
(lists sorted, tags as a sorted tuple), so that a record listed by a sweep
equals the one the inventory kept from cloudlb's own write when nothing
changed; a difference between them is drift.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloudlb.model import LoadBalancerKey, ServiceRef
from cloudlb_aws.naming import from_tag_list, owner_key, owner_of

Tags = tuple[tuple[str, str], ...]


def tag_tuple(tags: Mapping[str, str]) -> Tags:
    return tuple(sorted(tags.items()))


@dataclass(frozen=True)
class Owned:
    """A tagged resource: who it belongs to, by its tags."""

    tags: Tags

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)

    def owner(self, cluster: str) -> ServiceRef | None:
        """The Service it belongs to (for a shared load balancer's target group: its member)."""
        return owner_of(self.tag_map, cluster)

    def owner_key(self, cluster: str) -> LoadBalancerKey | None:
        return owner_key(self.tag_map, cluster)


@dataclass(frozen=True)
class LoadBalancerRecord(Owned):
    """A Network Load Balancer. ``cross_zone`` is None until its attributes are read (only when asked for)."""

    name: str
    arn: str
    dns_name: str
    scheme: str
    security_groups: tuple[str, ...]
    subnets: tuple[str, ...]
    addresses: tuple[str, ...]
    cross_zone: bool | None = None
    # Every attribute, once read (only for a Service that sets some: see ``attribute_planning``); None: unknown.
    attributes: Tags | None = None
    ip_address_type: str = "ipv4"

    @property
    def internal(self) -> bool:
        return self.scheme == "internal"


@dataclass(frozen=True)
class ListenerRecord:
    arn: str
    load_balancer_arn: str
    port: int
    protocol: str
    target_group_arn: str | None
    certificates: tuple[str, ...] = ()
    ssl_policy: str | None = None


@dataclass(frozen=True)
class HealthRecord:
    protocol: str
    port: str
    path: str | None
    interval: int
    timeout: int
    healthy_threshold: int
    unhealthy_threshold: int
    success_codes: str | None


@dataclass(frozen=True)
class TargetGroupRecord(Owned):
    name: str
    arn: str
    protocol: str
    port: int
    vpc_id: str
    health: HealthRecord
    load_balancer_arns: tuple[str, ...]
    # Every attribute, once read (only for a Service that sets some: see ``attribute_planning``); None: unknown.
    attributes: Tags | None = None


@dataclass(frozen=True, order=True)
class ClassicListener:
    port: int
    protocol: str  # TCP, SSL, HTTP or HTTPS (backend-protocol)
    instance_port: int
    certificate: str | None = None
    instance_protocol: str = "TCP"

    def as_aws(self) -> dict[str, Any]:
        listener: dict[str, Any] = {"Protocol": self.protocol, "LoadBalancerPort": self.port,
                                    "InstanceProtocol": self.instance_protocol, "InstancePort": self.instance_port}
        if self.certificate is not None:
            listener["SSLCertificateId"] = self.certificate
        return listener


@dataclass(frozen=True)
class ClassicHealth:
    target: str  # "TCP:30080" or "HTTP:31000/healthz"
    interval: int
    timeout: int
    healthy_threshold: int
    unhealthy_threshold: int

    def as_aws(self) -> dict[str, Any]:
        return {"Target": self.target, "Interval": self.interval, "Timeout": self.timeout,
                "HealthyThreshold": self.healthy_threshold, "UnhealthyThreshold": self.unhealthy_threshold}


@dataclass(frozen=True)
class ClassicRecord(Owned):
    """A Classic ELB: its description carries listeners, health check and instances."""

    name: str
    dns_name: str
    scheme: str
    listeners: frozenset[ClassicListener]
    health: ClassicHealth | None
    instances: frozenset[str]
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    # The policies of each instance port that has some, and the load balancer's own (proxy protocol).
    backend_policies: tuple[tuple[int, tuple[str, ...]], ...] = ()
    policies: tuple[str, ...] = ()
    # Its attributes as ``classic_attributes.normalized`` gives them (JSON), once read; None: unknown.
    attributes: str | None = None

    def backend_policies_of(self, port: int) -> tuple[str, ...]:
        return dict(self.backend_policies).get(port, ())


@dataclass(frozen=True, order=True)
class CidrRule:
    """One inbound rule as AWS counts them: a protocol, a port range and one CIDR."""

    protocol: str  # "tcp" or "udp"
    from_port: int
    to_port: int
    cidr: str


@dataclass(frozen=True, order=True)
class GroupRule:
    """One inbound rule admitting another security group (``protocol`` "-1": every protocol and port)."""

    protocol: str
    from_port: int
    to_port: int
    group_id: str
    description: str = ""


@dataclass(frozen=True)
class SecurityGroupRecord(Owned):
    group_id: str
    name: str
    vpc_id: str
    cidr_rules: frozenset[CidrRule]
    group_rules: frozenset[GroupRule]

    @property
    def rule_count(self) -> int:
        """Inbound rules as the quota counts them."""
        return len(self.cidr_rules) + len(self.group_rules)

    def rules_from(self, group_id: str) -> frozenset[GroupRule]:
        return frozenset(rule for rule in self.group_rules if rule.group_id == group_id)


@dataclass(frozen=True)
class InstanceRecord:
    instance_id: str
    state: str
    security_groups: tuple[str, ...]
    vpc_id: str


@dataclass(frozen=True, order=True)
class Subnet:
    subnet_id: str
    zone: str
    vpc_id: str
    tags: Tags = ()
    ipv6: bool = False  # an IPv6 CIDR is associated (a dual-stack load balancer needs one)


# -- parsing AWS answers --------------------------------------------------------------------------------


def load_balancer(item: Mapping[str, Any], tags: Mapping[str, str],
                  cross_zone: bool | None = None) -> LoadBalancerRecord:
    zones = item.get("AvailabilityZones") or []
    addresses = tuple(str(ip) for zone in zones for address in zone.get("LoadBalancerAddresses") or []
                      for ip in (address.get("IpAddress") or address.get("PrivateIPv4Address"),
                                 address.get("IPv6Address")) if ip)
    return LoadBalancerRecord(
        tags=tag_tuple(tags), name=str(item["LoadBalancerName"]), arn=str(item["LoadBalancerArn"]),
        dns_name=str(item.get("DNSName", "")), scheme=str(item.get("Scheme", "internet-facing")),
        security_groups=tuple(sorted(str(g) for g in item.get("SecurityGroups") or [])),
        subnets=tuple(sorted(str(z.get("SubnetId")) for z in zones if z.get("SubnetId"))),
        addresses=addresses, cross_zone=cross_zone, ip_address_type=str(item.get("IpAddressType") or "ipv4"))


def forwards_to(item: Mapping[str, Any]) -> str | None:
    for action in item.get("DefaultActions") or []:
        if action.get("Type") == "forward":
            if action.get("TargetGroupArn"):
                return str(action["TargetGroupArn"])
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            if len(groups) == 1:
                return str(groups[0]["TargetGroupArn"])
    return None


def listener(item: Mapping[str, Any]) -> ListenerRecord:
    return ListenerRecord(
        arn=str(item["ListenerArn"]), load_balancer_arn=str(item.get("LoadBalancerArn", "")),
        port=int(item["Port"]), protocol=str(item.get("Protocol", "")), target_group_arn=forwards_to(item),
        certificates=tuple(str(c.get("CertificateArn")) for c in item.get("Certificates") or []),
        ssl_policy=str(item["SslPolicy"]) if item.get("SslPolicy") else None)


def target_group(item: Mapping[str, Any], tags: Mapping[str, str]) -> TargetGroupRecord:
    protocol = str(item.get("HealthCheckProtocol", "TCP"))
    http = protocol != "TCP"
    health = HealthRecord(
        protocol=protocol, port=str(item.get("HealthCheckPort", "traffic-port")),
        path=str(item.get("HealthCheckPath")) if http and item.get("HealthCheckPath") else None,
        interval=int(item.get("HealthCheckIntervalSeconds", 0)), timeout=int(item.get("HealthCheckTimeoutSeconds", 0)),
        healthy_threshold=int(item.get("HealthyThresholdCount", 0)),
        unhealthy_threshold=int(item.get("UnhealthyThresholdCount", 0)),
        success_codes=str((item.get("Matcher") or {}).get("HttpCode")) if http and item.get("Matcher") else None)
    return TargetGroupRecord(
        tags=tag_tuple(tags), name=str(item["TargetGroupName"]), arn=str(item["TargetGroupArn"]),
        protocol=str(item.get("Protocol", "")), port=int(item.get("Port", 0)), vpc_id=str(item.get("VpcId", "")),
        health=health, load_balancer_arns=tuple(sorted(str(a) for a in item.get("LoadBalancerArns") or [])))


def classic(item: Mapping[str, Any], tags: Mapping[str, str]) -> ClassicRecord:
    listeners = frozenset(
        ClassicListener(int(raw["LoadBalancerPort"]), str(raw["Protocol"]).upper(), int(raw["InstancePort"]),
                        raw.get("SSLCertificateId") or None, str(raw.get("InstanceProtocol") or "TCP").upper())
        for raw in (d["Listener"] for d in item.get("ListenerDescriptions") or []))
    check = item.get("HealthCheck") or {}
    health = ClassicHealth(str(check["Target"]), int(check["Interval"]), int(check["Timeout"]),
                           int(check["HealthyThreshold"]), int(check["UnhealthyThreshold"])) \
        if check.get("Target") else None
    return ClassicRecord(
        tags=tag_tuple(tags), name=str(item["LoadBalancerName"]), dns_name=str(item.get("DNSName", "")),
        scheme=str(item.get("Scheme", "internet-facing")), listeners=listeners, health=health,
        instances=frozenset(str(i["InstanceId"]) for i in item.get("Instances") or []),
        subnets=tuple(sorted(str(s) for s in item.get("Subnets") or [])),
        security_groups=tuple(sorted(str(g) for g in item.get("SecurityGroups") or [])),
        backend_policies=tuple(sorted(
            (int(b["InstancePort"]), tuple(sorted(str(n) for n in b.get("PolicyNames") or [])))
            for b in item.get("BackendServerDescriptions") or [] if b.get("PolicyNames"))),
        policies=tuple(sorted(str(n) for n in (item.get("Policies") or {}).get("OtherPolicies") or [])))


def security_group(item: Mapping[str, Any]) -> SecurityGroupRecord:
    cidrs: set[CidrRule] = set()
    pairs: set[GroupRule] = set()
    for permission in item.get("IpPermissions") or []:
        protocol = str(permission.get("IpProtocol"))
        low, high = int(permission.get("FromPort", -1)), int(permission.get("ToPort", -1))
        if protocol == "-1":
            low, high = -1, -1
        for entry in permission.get("IpRanges") or []:
            cidrs.add(CidrRule(protocol, low, high, str(entry["CidrIp"])))
        for entry in permission.get("Ipv6Ranges") or []:
            cidrs.add(CidrRule(protocol, low, high, str(entry["CidrIpv6"])))
        for pair in permission.get("UserIdGroupPairs") or []:
            pairs.add(GroupRule(protocol, low, high, str(pair.get("GroupId")), str(pair.get("Description") or "")))
    return SecurityGroupRecord(
        tags=tag_tuple(from_tag_list(item.get("Tags"))), group_id=str(item["GroupId"]),
        name=str(item.get("GroupName", "")), vpc_id=str(item.get("VpcId", "")), cidr_rules=frozenset(cidrs),
        group_rules=frozenset(pairs))


def instance(item: Mapping[str, Any]) -> InstanceRecord:
    return InstanceRecord(
        instance_id=str(item["InstanceId"]), state=str((item.get("State") or {}).get("Name", "")),
        security_groups=tuple(sorted(str(g["GroupId"]) for g in item.get("SecurityGroups") or [])),
        vpc_id=str(item.get("VpcId", "")))


def subnet(item: Mapping[str, Any]) -> Subnet:
    # Any IPv6 CIDR not on its way out (moto 5 reports the state as text, AWS as {"State": ...}).
    ipv6 = any(a.get("Ipv6CidrBlock") and (a.get("Ipv6CidrBlockState") or {}).get("State") not in (
        "disassociating", "disassociated", "failing", "failed") for a in item.get("Ipv6CidrBlockAssociationSet") or [])
    return Subnet(subnet_id=str(item["SubnetId"]), zone=str(item["AvailabilityZone"]), vpc_id=str(item["VpcId"]),
                  tags=tag_tuple(from_tag_list(item.get("Tags"))), ipv6=ipv6)


def cidr_permissions(rules: Sequence[CidrRule] | frozenset[CidrRule]) -> list[dict[str, Any]]:
    """Rules as AWS takes them, CIDRs of one protocol and port range in one permission."""
    grouped: dict[tuple[str, int, int], list[str]] = {}
    for rule in sorted(rules):
        grouped.setdefault((rule.protocol, rule.from_port, rule.to_port), []).append(rule.cidr)
    permissions: list[dict[str, Any]] = []
    for (protocol, low, high), cidrs in grouped.items():
        permission: dict[str, Any] = {"IpProtocol": protocol, "FromPort": low, "ToPort": high}
        v4 = [{"CidrIp": c} for c in cidrs if ":" not in c]
        v6 = [{"CidrIpv6": c} for c in cidrs if ":" in c]
        if v4:
            permission["IpRanges"] = v4
        if v6:
            permission["Ipv6Ranges"] = v6
        permissions.append(permission)
    return permissions


def group_permissions(rules: Sequence[GroupRule] | frozenset[GroupRule]) -> list[dict[str, Any]]:
    """Group rules as AWS takes them; revoking repeats each as stored (description included)."""
    permissions: list[dict[str, Any]] = []
    for rule in sorted(rules):
        pair: dict[str, Any] = {"GroupId": rule.group_id}
        if rule.description:
            pair["Description"] = rule.description
        permission: dict[str, Any] = {"IpProtocol": rule.protocol, "UserIdGroupPairs": [pair]}
        if rule.protocol != "-1":
            permission.update(FromPort=rule.from_port, ToPort=rule.to_port)
        permissions.append(permission)
    return permissions
