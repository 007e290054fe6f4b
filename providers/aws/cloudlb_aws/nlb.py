"""Deploying an ``NLBModel``: observe what AWS has, then change only what differs.

Reads are few and batched: one Describe each for the load balancer, its
listeners and its target groups, one DescribeTags for all of them (20 ARNs a
call), and one DescribeTargetHealth per target group. Writes happen only where
the observed state differs from the model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cloudlb.model import ServiceRef
from cloudlb.provider import NotOwnedError, PermanentError
from cloudlb_aws.annotations import AWSAnnotations
from cloudlb_aws.calls import (
    DESCRIBE_BATCH,
    TARGET_BATCH,
    Clients,
    batches,
    describe_in_batches,
    ignoring,
    is_code,
    translated_errors,
)
from cloudlb_aws.naming import as_tag_list, from_tag_list, is_owned, tags_to_add, target_group_prefix
from cloudlb_aws.nlb_model import HealthCheckModel, ListenerModel, NLBModel, TargetGroupModel
from cloudlb_aws.placement import Placement

Resource = dict[str, Any]
NOT_FOUND_LB = ("LoadBalancerNotFound",)
NOT_FOUND_TG = ("TargetGroupNotFound",)
NOT_FOUND_LISTENER = ("ListenerNotFound",)


@dataclass
class ObservedNLB:
    load_balancer: Resource | None
    listeners: dict[int, Resource] = field(default_factory=dict)
    # Only target groups that carry our tags; keyed by name.
    target_groups: dict[str, Resource] = field(default_factory=dict)
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # by ARN


def _health_differs(group: Mapping[str, Any], health: HealthCheckModel) -> bool:
    observed = (
        group.get("HealthCheckProtocol"), str(group.get("HealthCheckPort")),
        group.get("HealthCheckPath") if health.protocol != "TCP" else None,
        group.get("HealthCheckIntervalSeconds"), group.get("HealthCheckTimeoutSeconds"),
        group.get("HealthyThresholdCount"), group.get("UnhealthyThresholdCount"),
        (group.get("Matcher") or {}).get("HttpCode") if health.protocol != "TCP" else None,
    )
    desired = (health.protocol, health.port, health.path, health.interval, health.timeout,
               health.healthy_threshold, health.unhealthy_threshold, health.success_codes)
    return observed != desired


def _health_arguments(health: HealthCheckModel) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "HealthCheckEnabled": True,
        "HealthCheckProtocol": health.protocol,
        "HealthCheckPort": health.port,
        "HealthCheckIntervalSeconds": health.interval,
        "HealthCheckTimeoutSeconds": health.timeout,
        "HealthyThresholdCount": health.healthy_threshold,
        "UnhealthyThresholdCount": health.unhealthy_threshold,
    }
    if health.protocol != "TCP":
        arguments["HealthCheckPath"] = health.path
        arguments["Matcher"] = {"HttpCode": health.success_codes}
    return arguments


def _forwards_to(listener: Mapping[str, Any]) -> str | None:
    for action in listener.get("DefaultActions", []):
        if action.get("Type") == "forward":
            if action.get("TargetGroupArn"):
                return str(action["TargetGroupArn"])
            groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
            if len(groups) == 1:
                return str(groups[0]["TargetGroupArn"])
    return None


def _listener_differs(observed: Mapping[str, Any], desired: ListenerModel, group_arn: str) -> bool:
    certificates = [c.get("CertificateArn") for c in observed.get("Certificates") or []]
    return (observed.get("Protocol") != desired.protocol
            or _forwards_to(observed) != group_arn
            or (desired.certificate is not None and certificates != [desired.certificate])
            or (desired.ssl_policy is not None and observed.get("SslPolicy") != desired.ssl_policy))


def _listener_arguments(listener: ListenerModel, group_arn: str) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "Protocol": listener.protocol,
        "Port": listener.port,
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": group_arn}],
    }
    if listener.certificate is not None:
        arguments["Certificates"] = [{"CertificateArn": listener.certificate}]
        arguments["SslPolicy"] = listener.ssl_policy
    return arguments


class NLBDeployer:
    def __init__(self, clients: Clients, cluster: str) -> None:
        self._elbv2 = clients.elbv2
        self._cluster = cluster

    # -- observing ---------------------------------------------------------------------------------

    def describe(self, name: str) -> Resource | None:
        found: Sequence[Any] = ()
        with translated_errors(f"describing load balancer {name}"), ignoring(*NOT_FOUND_LB):
            found = self._elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
        return dict(found[0]) if found else None

    def observe(self, name: str, service: ServiceRef) -> ObservedNLB:
        """The load balancer by name and what hangs off it, keeping only target groups with our tags."""
        load_balancer = self.describe(name)
        observed = ObservedNLB(load_balancer)
        groups: dict[str, Resource] = {}
        if load_balancer is not None:
            arn = load_balancer["LoadBalancerArn"]
            with translated_errors(f"describing listeners of {name}"):
                pages = self._elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=arn)
                observed.listeners = {int(item["Port"]): dict(item) for page in pages for item in page["Listeners"]}
            # The groups our listeners forward to, by ARN (a group no listener uses is a stray, see add_strays).
            forwarded = sorted({a for item in observed.listeners.values() if (a := _forwards_to(item))})
            for item in describe_in_batches(forwarded, self._describe_target_groups):
                groups[str(item["TargetGroupArn"])] = item
        arns = ([load_balancer["LoadBalancerArn"]] if load_balancer is not None else []) + sorted(groups)
        tags = observed.tags = self.tags(arns)
        if load_balancer is not None and not is_owned(
                tags.get(load_balancer["LoadBalancerArn"], {}), self._cluster, service):
            raise NotOwnedError(f"load balancer {name}")
        observed.target_groups = {
            str(group["TargetGroupName"]): group for arn, group in groups.items()
            if is_owned(tags.get(arn, {}), self._cluster, service)
        }
        return observed

    def _describe_target_groups(self, arns: list[str]) -> list[Resource]:
        with translated_errors("describing target groups"):
            return [dict(g) for g in self._elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]]

    def add_strays(self, observed: ObservedNLB, service: ServiceRef) -> None:
        """Add the Service's target groups that no listener uses to ``observed``.

        They are left by an ``ensure`` that failed half-way (or a crash); only a
        scan by name prefix finds them, so it is done only when one may exist.
        """
        known = {str(g["TargetGroupArn"]) for g in observed.target_groups.values()}
        strays = [g for g in self.scan_target_groups(target_group_prefix(self._cluster, service))
                  if str(g["TargetGroupArn"]) not in known]
        for group, tags in self._owned_groups(strays, service):
            observed.tags[str(group["TargetGroupArn"])] = tags
            observed.target_groups.setdefault(str(group["TargetGroupName"]), group)

    def scan_target_groups(self, prefix: str) -> list[Resource]:
        with translated_errors("listing target groups"):
            pages = self._elbv2.get_paginator("describe_target_groups").paginate()
            return [dict(g) for page in pages for g in page["TargetGroups"]
                    if str(g["TargetGroupName"]).startswith(prefix)]

    def _owned_groups(self, groups: Sequence[Resource],
                      service: ServiceRef) -> list[tuple[Resource, dict[str, str]]]:
        """The target groups among ``groups`` whose tags name this cluster and Service, with those tags."""
        tags = self.tags([str(g["TargetGroupArn"]) for g in groups])
        found = ((group, tags.get(str(group["TargetGroupArn"]), {})) for group in groups)
        return [(group, group_tags) for group, group_tags in found if is_owned(group_tags, self._cluster, service)]

    def tags(self, arns: Sequence[str]) -> dict[str, dict[str, str]]:
        def describe(batch: list[str]) -> list[tuple[str, dict[str, str]]]:
            with translated_errors("reading tags"):
                response = self._elbv2.describe_tags(ResourceArns=batch)
            return [(str(d["ResourceArn"]), from_tag_list(d.get("Tags"))) for d in response["TagDescriptions"]]
        return dict(describe_in_batches(list(arns), describe))

    # -- converging --------------------------------------------------------------------------------

    def create(self, model: NLBModel, placement: Placement, group_id: str, parsed: AWSAnnotations) -> Resource:
        arguments: dict[str, Any] = {
            "Name": model.name, "Type": "network", "IpAddressType": "ipv4",
            "Scheme": "internal" if model.internal else "internet-facing",
            "SecurityGroups": [group_id], "Tags": as_tag_list(model.tags),
        }
        fixed = parsed.eip_allocations or parsed.private_ipv4_addresses
        if fixed:
            if len(fixed) != len(placement.subnets):
                raise PermanentError(f"{len(fixed)} addresses are annotated for {len(placement.subnets)} subnets "
                                     f"({', '.join(placement.subnet_ids)}); they must be one per subnet")
            key = "AllocationId" if parsed.eip_allocations else "PrivateIPv4Address"
            arguments["SubnetMappings"] = [{"SubnetId": subnet, key: address}
                                           for subnet, address in zip(placement.subnet_ids, fixed, strict=True)]
        else:
            arguments["Subnets"] = list(placement.subnet_ids)
        with translated_errors(f"creating load balancer {model.name}"):
            created = self._elbv2.create_load_balancer(**arguments)
        return dict(created["LoadBalancers"][0])

    def converge(self, model: NLBModel, observed: ObservedNLB, service: ServiceRef,
                 placement: Placement, parsed: AWSAnnotations) -> None:
        load_balancer = observed.load_balancer
        assert load_balancer is not None
        arn = str(load_balancer["LoadBalancerArn"])
        fresh_groups: set[str] = set()
        group_arns: dict[str, str] = {}
        for listener in model.listeners:
            group = observed.target_groups.get(listener.target_group.name)
            if group is None:
                group = self._create_target_group(listener.target_group, placement.vpc_id, model, service)
                fresh_groups.add(listener.target_group.name)
            elif _health_differs(group, listener.target_group.health):
                with translated_errors(f"updating health check of {listener.target_group.name}"):
                    self._elbv2.modify_target_group(TargetGroupArn=group["TargetGroupArn"],
                                                    **_health_arguments(listener.target_group.health))
            group_arns[listener.target_group.name] = str(group["TargetGroupArn"])
            self._converge_listener(arn, listener, observed.listeners.get(listener.port),
                                    group_arns[listener.target_group.name],
                                    created_group=listener.target_group.name in fresh_groups)
        for group_model in model.target_groups:
            self._converge_targets(group_arns[group_model.name], group_model, model.instance_ids,
                                   fresh=group_model.name in fresh_groups)
        wanted_ports = {listener.port for listener in model.listeners}
        for port, unwanted in sorted(observed.listeners.items()):
            if port not in wanted_ports:
                with translated_errors(f"deleting listener {port} of {model.name}"), ignoring(*NOT_FOUND_LISTENER):
                    self._elbv2.delete_listener(ListenerArn=unwanted["ListenerArn"])
        wanted_groups = {group.name for group in model.target_groups}
        for name, group in sorted(observed.target_groups.items()):
            # Groups attached to another of our load balancers belong to a replacement in progress.
            elsewhere = set(group.get("LoadBalancerArns") or []) - {arn}
            if name not in wanted_groups and not elsewhere:
                self.delete_target_group(str(group["TargetGroupArn"]))
        self._converge_tags([arn, *(group_arns[g] for g in group_arns if g not in fresh_groups)], model, observed)
        self._converge_attributes(arn, model)
        self._converge_subnets(load_balancer, placement, parsed)

    def _create_target_group(self, group: TargetGroupModel, vpc_id: str, model: NLBModel,
                             service: ServiceRef) -> Resource:
        with translated_errors(f"creating target group {group.name}"):
            try:
                created = self._elbv2.create_target_group(
                    Name=group.name, Protocol=group.protocol, Port=group.node_port,  # type: ignore[arg-type]
                    VpcId=vpc_id, TargetType="instance", Tags=as_tag_list(model.tags),
                    **_health_arguments(group.health),
                )
            except Exception as error:
                if not is_code(error, "DuplicateTargetGroupName"):
                    raise
                return self._adopt_target_group(group.name, service)
        return dict(created["TargetGroups"][0])

    def _adopt_target_group(self, name: str, service: ServiceRef) -> Resource:
        """A group with our name that we did not see: ours from a failed attempt, or someone else's."""
        found = [dict(g) for g in self._elbv2.describe_target_groups(Names=[name])["TargetGroups"]]
        owned = self._owned_groups(found, service)
        if not owned:
            raise NotOwnedError(f"target group {name}")
        return owned[0][0]

    def _converge_listener(self, lb_arn: str, listener: ListenerModel, observed: Resource | None,
                           group_arn: str, *, created_group: bool) -> None:
        if observed is None:
            with translated_errors(f"creating listener {listener.port}/{listener.protocol}"):
                try:
                    self._elbv2.create_listener(LoadBalancerArn=lb_arn, **_listener_arguments(listener, group_arn))
                except Exception:
                    if created_group:
                        # Do not leave a group that no listener uses behind.
                        self.delete_target_group(group_arn, best_effort=True)
                    raise
        elif _listener_differs(observed, listener, group_arn):
            with translated_errors(f"updating listener {listener.port}"):
                self._elbv2.modify_listener(ListenerArn=observed["ListenerArn"],
                                            **_listener_arguments(listener, group_arn))

    def _converge_targets(self, group_arn: str, group: TargetGroupModel, wanted: frozenset[str],
                          *, fresh: bool) -> None:
        registered: set[str] = set()
        if not fresh:
            with translated_errors(f"reading targets of {group.name}"):
                health = self._elbv2.describe_target_health(TargetGroupArn=group_arn)
            registered = {str(d["Target"]["Id"]) for d in health["TargetHealthDescriptions"]
                          if (d.get("TargetHealth") or {}).get("State") != "draining"}
        for batch in batches(sorted(wanted - registered), TARGET_BATCH):
            with translated_errors(f"registering targets in {group.name}"):
                self._elbv2.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": i} for i in batch])
        for batch in batches(sorted(registered - wanted), TARGET_BATCH):
            with translated_errors(f"deregistering targets from {group.name}"):
                self._elbv2.deregister_targets(TargetGroupArn=group_arn, Targets=[{"Id": i} for i in batch])

    def _converge_tags(self, arns: list[str], model: NLBModel, observed: ObservedNLB) -> None:
        """Add changed additional tags to what already existed; one AddTags per distinct change, 20 ARNs a call."""
        by_change: dict[tuple[tuple[str, str], ...], list[str]] = {}
        for resource in arns:
            if resource not in observed.tags:
                continue  # created in this ensure, with the model's tags
            missing = tags_to_add(model.tags, observed.tags[resource])
            if missing:
                by_change.setdefault(tuple(sorted(missing.items())), []).append(resource)
        for change, resources in by_change.items():
            for batch in batches(resources, DESCRIBE_BATCH):
                with translated_errors("updating tags"):
                    self._elbv2.add_tags(ResourceArns=batch, Tags=as_tag_list(dict(change)))

    def _converge_attributes(self, arn: str, model: NLBModel) -> None:
        # Only attributes the user asked for are managed; reading them otherwise would cost a call per resync.
        if model.cross_zone is None:
            return
        wanted = "true" if model.cross_zone else "false"
        with translated_errors("reading load balancer attributes"):
            attributes = self._elbv2.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]
        current = {a.get("Key"): a.get("Value") for a in attributes}
        if current.get("load_balancing.cross_zone.enabled") != wanted:
            with translated_errors("updating load balancer attributes"):
                self._elbv2.modify_load_balancer_attributes(
                    LoadBalancerArn=arn, Attributes=[{"Key": "load_balancing.cross_zone.enabled", "Value": wanted}])

    def _converge_subnets(self, load_balancer: Mapping[str, Any], placement: Placement,
                          parsed: AWSAnnotations) -> None:
        if parsed.eip_allocations or parsed.private_ipv4_addresses:
            return  # fixed addresses pin the subnets; changing them is a replacement the user must ask for
        current = {str(zone.get("SubnetId")) for zone in load_balancer.get("AvailabilityZones", [])}
        if current and current != set(placement.subnet_ids):
            with translated_errors("updating load balancer subnets"):
                self._elbv2.set_subnets(LoadBalancerArn=load_balancer["LoadBalancerArn"],
                                        Subnets=list(placement.subnet_ids))

    # -- deleting ----------------------------------------------------------------------------------

    def delete_target_group(self, arn: str, *, best_effort: bool = False) -> None:
        try:
            with translated_errors(f"deleting target group {arn}"), ignoring(*NOT_FOUND_TG):
                self._elbv2.delete_target_group(TargetGroupArn=arn)
        except Exception:
            if not best_effort:
                raise

    def delete(self, name: str, service: ServiceRef) -> None:
        """Delete the load balancer (and with it its listeners), then the target groups it used."""
        try:
            observed = self.observe(name, service)
        except NotOwnedError:
            return  # someone else's load balancer with our name: never ours to delete
        if observed.load_balancer is None:
            return
        with translated_errors(f"deleting load balancer {name}"), ignoring(*NOT_FOUND_LB):
            self._elbv2.delete_load_balancer(LoadBalancerArn=observed.load_balancer["LoadBalancerArn"])
        for group in observed.target_groups.values():
            self.delete_target_group(str(group["TargetGroupArn"]))

    def delete_strays(self, service: ServiceRef) -> None:
        """Every target group of the Service that is left, found by name prefix and proven ours by tags."""
        groups = self.scan_target_groups(target_group_prefix(self._cluster, service))
        for group, _ in self._owned_groups(groups, service):
            self.delete_target_group(str(group["TargetGroupArn"]))


def addresses(load_balancer: Mapping[str, Any]) -> list[str]:
    """The addresses AWS reports for the load balancer's zones, when it reports any."""
    found: list[str] = []
    for zone in load_balancer.get("AvailabilityZones", []):
        for address in zone.get("LoadBalancerAddresses", []):
            ip = address.get("IpAddress") or address.get("PrivateIPv4Address")
            if ip:
                found.append(str(ip))
    return found
