"""Carrying out one planned change through boto3, and keeping the inventory in step.

A write whose answer was lost may be sent again by the next plan: "already
exists" after a create is then success when what exists carries our tags (it
is read once and adopted), and "not found" after a delete or a revoke is
success too; neither becomes a failure of the Service. Something with our name
but without our tags is never adopted: ``NotOwnedError``.

What the cluster shares (its backend security group and the node groups'
rules admitting it) is written under one lock, against the inventory at that
moment: of several plans that saw it missing, only the first writes, and it
is deleted only when no load balancer of the cluster exists or is being built.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import botocore.exceptions

from cloudlb.changes import Change
from cloudlb.model import LoadBalancerKey
from cloudlb.provider import NotOwnedError, RetryLater
from cloudlb_aws import reads, records
from cloudlb_aws.calls import Clients, error_code, translated_errors
from cloudlb_aws.inventory import CLASSIC, GROUP, LB, LISTENERS, NODE_GROUP, TARGETS, TG, Inventory
from cloudlb_aws.naming import (
    SERVICE_NAME_TAG,
    as_tag_list,
    backend_group_name,
    from_tag_list,
    is_cluster_owned,
    owner_key,
)
from cloudlb_aws.planner import Ref, Write
from cloudlb_aws.records import ClassicListener, GroupRule, SecurityGroupRecord, tag_tuple
from cloudlb_aws.security import BACKEND, missing_backend_rules

logger = logging.getLogger(__name__)
ALREADY = {
    "create_load_balancer": ("DuplicateLoadBalancerName",),
    "create_target_group": ("DuplicateTargetGroupName",),
    "create_listener": ("DuplicateListener",),
    "create_classic": ("DuplicateLoadBalancerName", "DuplicateAccessPointName"),
    "create_group": ("InvalidGroup.Duplicate",),
    "ensure_backend": ("InvalidGroup.Duplicate",),
}


@contextmanager
def tolerating(*codes: str) -> Iterator[list[str]]:
    """Take the AWS errors ``codes`` as success; the list holds the code that was tolerated, if any."""
    seen: list[str] = []
    try:
        yield seen
    except botocore.exceptions.ClientError as error:
        if error_code(error) not in codes:
            raise
        seen.append(error_code(error))


def _same_owner(found: dict[str, str], wanted: Mapping[str, str], cluster: str) -> bool:
    """Whether what exists under our name carries the tags we would have given it (the same load balancer
    and, for a shared one's target group, the same member)."""
    return (is_cluster_owned(found, cluster) and owner_key(found, cluster) == owner_key(wanted, cluster)
            and found.get(SERVICE_NAME_TAG) == wanted.get(SERVICE_NAME_TAG))


class Writer:
    def __init__(self, clients: Callable[[], Clients], inventory: Inventory, cluster: str) -> None:
        self._clients = clients
        self.inventory = inventory
        self.cluster = cluster
        self._shared = threading.Lock()
        self._building: dict[LoadBalancerKey, int] = {}

    @property
    def clients(self) -> Clients:
        return self._clients()

    @contextmanager
    def building(self, key: LoadBalancerKey) -> Iterator[None]:
        """While a plan that wants ``key`` runs, the cluster's backend group is in use."""
        with self._shared:
            self._building[key] = self._building.get(key, 0) + 1
        try:
            yield
        finally:
            with self._shared:
                self._building[key] -= 1
                if not self._building[key]:
                    del self._building[key]

    def run(self, change: Change) -> None:
        write: Write = change.payload
        try:
            with translated_errors(f"{change.action} {change.resource} {change.name}"):
                getattr(self, write.op)(**write.args)
        except Exception as error:
            self._mark_stale(*write.stale, error)
            raise

    def _mark_stale(self, kind: str, name: str, error: Exception) -> None:
        inventory = self.inventory
        if kind == LISTENERS:
            record = inventory.load_balancers.records.get(name)
            if record is not None:
                inventory.forget_listeners(record.arn)
        elif kind == TARGETS:
            group = inventory.target_groups.records.get(name)
            if group is not None:
                inventory.forget_targets(group.arn)
            if "InvalidTarget" in str(error):
                # An instance stopped or went away since it was looked up: look it up again.
                with inventory.lock:
                    inventory.instances.clear()
                    inventory.changed()
        else:
            inventory.mark_stale(kind, name)

    # -- resolving what earlier changes of the plan created --------------------------------------------

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, Ref):
            if value.kind == "group":
                group = self.inventory.groups.records.get(value.name)
                found = group.group_id if group else None
            elif value.kind == "lb":
                lb = self.inventory.load_balancers.records.get(value.name)
                found = lb.arn if lb else None
            else:
                tg = self.inventory.target_groups.records.get(value.name)
                found = tg.arn if tg else None
            if found is None:
                raise RetryLater(f"{value.kind} {value.name} is not known yet")
            return found
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._resolve(v) for v in value]
        return value

    def _lb_arn(self, name: str) -> str:
        return str(self._resolve(Ref("lb", name)))

    def _tg_arn(self, name: str) -> str:
        return str(self._resolve(Ref("tg", name)))

    # -- security groups ---------------------------------------------------------------------------------

    def _create_group(self, name: str, vpc_id: str, tags: Mapping[str, str], description: str) -> None:
        ec2 = self.clients.ec2
        with tolerating(*ALREADY["create_group"]) as already:
            created = ec2.create_security_group(
                GroupName=name, VpcId=vpc_id, Description=description,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": as_tag_list(tags)}])
        if already:
            found = [g for g in reads.group_by_name(self.clients, name, vpc_id) if g.name == name]
            if not found or not _same_owner(found[0].tag_map, tags, self.cluster):
                raise NotOwnedError(f"security group {name}")
            logger.info("security group %s already exists and is ours (an earlier answer was lost)", name)
            self.inventory.put_group(found[0])
            return
        self.inventory.put_group(SecurityGroupRecord(tag_tuple(tags), str(created["GroupId"]), name, vpc_id,
                                                     frozenset(), frozenset()))

    def create_group(self, name: str, vpc_id: str, tags: Mapping[str, str], description: str) -> None:
        self._create_group(name, vpc_id, tags, description)

    def ensure_backend(self, name: str, vpc_id: str, tags: Mapping[str, str]) -> None:
        with self._shared:
            if name in self.inventory.groups.records:
                logger.info("security group %s: created by another plan meanwhile", name)
                return
            self._create_group(name, vpc_id, tags,
                               f"cloudlb: every load balancer of cluster {self.cluster}; the nodes admit it")

    def _group(self, group: Any) -> SecurityGroupRecord:
        group_id = str(self._resolve(group))
        record = self.inventory.group_by_id(group_id)
        if record is None:
            raise RetryLater(f"security group {group_id} is not known; reading it again")
        return record

    def authorize(self, group: Any, rules: tuple[records.CidrRule, ...]) -> None:
        record = self._group(group)
        with tolerating("InvalidPermission.Duplicate"):
            self.clients.ec2.authorize_security_group_ingress(
                GroupId=record.group_id, IpPermissions=records.cidr_permissions(rules))  # type: ignore[arg-type]
        self.inventory.put_any_group(dataclasses.replace(record, cidr_rules=record.cidr_rules | set(rules)))

    def revoke(self, group: Any, rules: tuple[records.CidrRule, ...]) -> None:
        record = self._group(group)
        with tolerating("InvalidPermission.NotFound"):
            self.clients.ec2.revoke_security_group_ingress(
                GroupId=record.group_id, IpPermissions=records.cidr_permissions(rules))  # type: ignore[arg-type]
        self.inventory.put_any_group(dataclasses.replace(record, cidr_rules=record.cidr_rules - set(rules)))

    def tag_group(self, group_id: str, tags: Mapping[str, str]) -> None:
        record = self._group(group_id)
        self.clients.ec2.create_tags(Resources=[group_id], Tags=as_tag_list(tags))
        self.inventory.put_any_group(dataclasses.replace(record, tags=tag_tuple({**record.tag_map, **tags})))

    def untag_group(self, group_id: str, keys: tuple[str, ...]) -> None:
        self.clients.ec2.delete_tags(Resources=[group_id], Tags=[{"Key": k} for k in keys])
        record = self.inventory.group_by_id(group_id)
        if record is not None:
            self.inventory.put_any_group(dataclasses.replace(
                record, tags=tag_tuple({k: v for k, v in record.tag_map.items() if k not in keys})))

    def delete_group(self, name: str, group_id: str) -> None:
        with tolerating("InvalidGroup.NotFound"):
            self.clients.ec2.delete_security_group(GroupId=group_id)
        self.inventory.remove_group(name)

    def authorize_node_rules(self, group_id: str, rules: tuple[GroupRule, ...]) -> None:
        with self._shared:
            backend = self.inventory.groups.records.get(backend_group_name(self.cluster))
            node_group = self.inventory.node_groups.records.get(group_id)
            if backend is None or node_group is None:
                raise RetryLater(f"the backend group or node group {group_id} is not known; reading them again")
            missing = missing_backend_rules(node_group, frozenset(rules), backend.group_id)
            if not missing:
                logger.info("node group %s: its rules were added by another plan meanwhile", group_id)
                return
            resolved = [dataclasses.replace(rule, group_id=backend.group_id) if rule.group_id == BACKEND else rule
                        for rule in sorted(missing)]
            with tolerating("InvalidPermission.Duplicate"):
                self.clients.ec2.authorize_security_group_ingress(
                    GroupId=group_id, IpPermissions=records.group_permissions(resolved))  # type: ignore[arg-type]
            self.inventory.put_node_group(
                dataclasses.replace(node_group, group_rules=node_group.group_rules | set(resolved)))

    def revoke_node_rules(self, group_id: str, rules: tuple[GroupRule, ...]) -> None:
        with self._shared:
            self._revoke_node_rules(group_id, rules)

    def _revoke_node_rules(self, group_id: str, rules: tuple[GroupRule, ...]) -> None:
        with tolerating("InvalidPermission.NotFound", "InvalidGroup.NotFound"):
            self.clients.ec2.revoke_security_group_ingress(
                GroupId=group_id, IpPermissions=records.group_permissions(rules))  # type: ignore[arg-type]
        node_group = self.inventory.node_groups.records.get(group_id)
        if node_group is not None:
            self.inventory.put_node_group(
                dataclasses.replace(node_group, group_rules=node_group.group_rules - set(rules)))

    def delete_backend(self) -> None:
        name = backend_group_name(self.cluster)
        with self._shared:
            backend = self.inventory.groups.records.get(name)
            if backend is None:
                return
            if self._building or self.inventory.cluster_view().load_balancer_count:
                logger.info("security group %s: another load balancer of the cluster uses it; kept", name)
                return
            for group_id, node_group in sorted(self.inventory.node_groups.records.items()):
                rules = node_group.rules_from(backend.group_id)
                if rules:
                    self._revoke_node_rules(group_id, tuple(sorted(rules)))
            with tolerating("InvalidGroup.NotFound"):
                self.clients.ec2.delete_security_group(GroupId=backend.group_id)
            self.inventory.remove_group(name)

    # -- Network Load Balancers --------------------------------------------------------------------------

    def create_load_balancer(self, name: str, arguments: Mapping[str, Any], groups: list[Any],
                             tags: Mapping[str, str]) -> None:
        elbv2 = self.clients.elbv2
        with tolerating(*ALREADY["create_load_balancer"]) as already:
            created = elbv2.create_load_balancer(**arguments, SecurityGroups=self._resolve(groups),
                                                 Tags=as_tag_list(tags))
        if already:
            found = reads.load_balancer(self.clients, name)
            if found is None or not _same_owner(found.tag_map, tags, self.cluster):
                raise NotOwnedError(f"load balancer {name}")
            logger.info("load balancer %s already exists and is ours (an earlier answer was lost)", name)
            self.inventory.put_load_balancer(found)
            return
        record = records.load_balancer(created["LoadBalancers"][0], tags)
        self.inventory.put_load_balancer(record)
        self.inventory.put_listeners(record.arn, {})

    def _update_lb(self, name: str, **fields: Any) -> None:
        record = self.inventory.load_balancers.records.get(name)
        if record is not None:
            self.inventory.put_load_balancer(dataclasses.replace(record, **fields))

    def set_security_groups(self, name: str, groups: list[Any]) -> None:
        resolved = [str(g) for g in self._resolve(groups)]
        self.clients.elbv2.set_security_groups(LoadBalancerArn=self._lb_arn(name), SecurityGroups=resolved)
        self._update_lb(name, security_groups=tuple(sorted(resolved)))

    def set_subnets(self, name: str, subnets: tuple[str, ...]) -> None:
        self.clients.elbv2.set_subnets(LoadBalancerArn=self._lb_arn(name), Subnets=list(subnets))
        self._update_lb(name, subnets=tuple(sorted(subnets)))

    def set_ip_address_type(self, name: str, value: str) -> None:
        self.clients.elbv2.set_ip_address_type(LoadBalancerArn=self._lb_arn(name), IpAddressType=value)  # type: ignore[arg-type]
        self._update_lb(name, ip_address_type=value)

    def set_cross_zone(self, name: str, value: bool) -> None:
        self.clients.elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=self._lb_arn(name),
            Attributes=[{"Key": reads.CROSS_ZONE, "Value": "true" if value else "false"}])
        self._update_lb(name, cross_zone=value)

    def add_tags(self, arns: tuple[Any, ...], tags: Mapping[str, str]) -> None:
        resolved = [str(arn) for arn in self._resolve(list(arns))]
        self.clients.elbv2.add_tags(ResourceArns=resolved, Tags=as_tag_list(tags))
        for arn in resolved:
            lb = self.inventory.load_balancer_by_arn(arn)
            if lb is not None:
                self.inventory.put_load_balancer(dataclasses.replace(lb, tags=tag_tuple({**lb.tag_map, **tags})))
            group = self.inventory.target_group_by_arn(arn)
            if group is not None:
                self.inventory.put_target_group(dataclasses.replace(group, tags=tag_tuple({**group.tag_map, **tags})))

    def delete_load_balancer(self, name: str) -> None:
        record = self.inventory.load_balancers.records.get(name)
        if record is not None:
            with tolerating("LoadBalancerNotFound"):
                self.clients.elbv2.delete_load_balancer(LoadBalancerArn=record.arn)
        self.inventory.remove_load_balancer(name)

    def create_target_group(self, name: str, arguments: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        with tolerating(*ALREADY["create_target_group"]) as already:
            created = self.clients.elbv2.create_target_group(**arguments, Tags=as_tag_list(tags))
        if already:
            found = reads.target_group(self.clients, name)
            if found is None or not _same_owner(found.tag_map, tags, self.cluster):
                raise NotOwnedError(f"target group {name}")
            logger.info("target group %s already exists and is ours (an earlier answer was lost)", name)
            self.inventory.put_target_group(found)
            return
        record = records.target_group(created["TargetGroups"][0], tags)
        self.inventory.put_target_group(record)
        self.inventory.put_targets(record.arn, ())

    def modify_target_group(self, name: str, arguments: Mapping[str, Any]) -> None:
        record = self.inventory.target_groups.records.get(name)
        answer = self.clients.elbv2.modify_target_group(TargetGroupArn=self._tg_arn(name), **arguments)
        if record is not None and answer.get("TargetGroups"):
            self.inventory.put_target_group(dataclasses.replace(
                records.target_group(answer["TargetGroups"][0], record.tag_map), attributes=record.attributes))

    def modify_target_group_attributes(self, name: str, attributes: Mapping[str, str],
                                       after: Mapping[str, str]) -> None:
        self.clients.elbv2.modify_target_group_attributes(
            TargetGroupArn=self._tg_arn(name), Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()])
        record = self.inventory.target_groups.records.get(name)
        if record is not None:
            self.inventory.put_target_group(dataclasses.replace(record, attributes=tag_tuple(after)))

    def modify_load_balancer_attributes(self, name: str, attributes: Mapping[str, str],
                                        after: Mapping[str, str]) -> None:
        self.clients.elbv2.modify_load_balancer_attributes(
            LoadBalancerArn=self._lb_arn(name), Attributes=[{"Key": k, "Value": v} for k, v in attributes.items()])
        self._update_lb(name, attributes=tag_tuple(after))

    def remove_tags(self, arns: tuple[Any, ...], keys: tuple[str, ...]) -> None:
        resolved = [str(arn) for arn in self._resolve(list(arns))]
        self.clients.elbv2.remove_tags(ResourceArns=resolved, TagKeys=list(keys))
        for arn in resolved:
            lb = self.inventory.load_balancer_by_arn(arn)
            if lb is not None:
                kept = {k: v for k, v in lb.tag_map.items() if k not in keys}
                self.inventory.put_load_balancer(dataclasses.replace(lb, tags=tag_tuple(kept)))
            group = self.inventory.target_group_by_arn(arn)
            if group is not None:
                kept = {k: v for k, v in group.tag_map.items() if k not in keys}
                self.inventory.put_target_group(dataclasses.replace(group, tags=tag_tuple(kept)))

    def delete_target_group(self, name: str) -> None:
        record = self.inventory.target_groups.records.get(name)
        if record is not None:
            with tolerating("TargetGroupNotFound"):
                self.clients.elbv2.delete_target_group(TargetGroupArn=record.arn)
        self.inventory.remove_target_group(name)

    def register_targets(self, group: str, targets: tuple[str, ...]) -> None:
        arn = self._tg_arn(group)
        self.clients.elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": t} for t in targets])
        self.inventory.change_targets(arn, add=targets)

    def deregister_targets(self, group: str, targets: tuple[str, ...]) -> None:
        arn = self._tg_arn(group)
        with tolerating("InvalidTarget"):
            self.clients.elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": t} for t in targets])
        self.inventory.change_targets(arn, remove=targets)

    def _attach(self, group_arn: str | None, load_balancer_arn: str, attached: bool) -> None:
        """Keep a target group's load balancers in step with the listeners that forward to it."""
        group = self.inventory.target_group_by_arn(group_arn) if group_arn else None
        if group is None:
            return
        arns = set(group.load_balancer_arns)
        if attached:
            arns.add(load_balancer_arn)
        else:
            still = self.inventory.listeners.get(load_balancer_arn, {}).values()
            if not any(x.target_group_arn == group_arn for x in still):
                arns.discard(load_balancer_arn)
        self.inventory.put_target_group(dataclasses.replace(group, load_balancer_arns=tuple(sorted(arns))))

    def create_listener(self, load_balancer: str, arguments: Mapping[str, Any]) -> None:
        arn = self._lb_arn(load_balancer)
        resolved = self._resolve(dict(arguments))
        group_arn = str(resolved["DefaultActions"][0]["TargetGroupArn"])
        try:
            with tolerating(*ALREADY["create_listener"]) as already:
                created = self.clients.elbv2.create_listener(LoadBalancerArn=arn, **resolved)
        except botocore.exceptions.ClientError:
            group = self.inventory.target_group_by_arn(group_arn)
            if group is not None and not group.load_balancer_arns:
                # Do not leave a group that no listener uses behind (a refused certificate waits for an edit).
                with tolerating("TargetGroupNotFound", "ResourceInUse"):
                    self.clients.elbv2.delete_target_group(TargetGroupArn=group_arn)
                self.inventory.remove_target_group(group.name)
            raise
        if already:
            found = reads.listeners_of(self.clients, arn) or {}
            self.inventory.put_listeners(arn, found)
            current = found.get(int(resolved["Port"]))
            if current is None or current.protocol != resolved["Protocol"] or current.target_group_arn != \
                    resolved["DefaultActions"][0]["TargetGroupArn"]:
                raise RetryLater(f"listener {load_balancer}:{resolved['Port']} exists but differs; planning again")
            logger.info("listener %s:%s already exists (an earlier answer was lost)", load_balancer, resolved["Port"])
        else:
            self.inventory.put_listener(records.listener({**created["Listeners"][0], "LoadBalancerArn": arn}))
        self._attach(group_arn, arn, attached=True)

    def _listener_target(self, load_balancer_arn: str, listener_arn: str) -> str | None:
        found = [x for x in self.inventory.listeners.get(load_balancer_arn, {}).values() if x.arn == listener_arn]
        return found[0].target_group_arn if found else None

    def modify_listener(self, load_balancer: str, listener_arn: str, arguments: Mapping[str, Any]) -> None:
        arn = self._lb_arn(load_balancer)
        before = self._listener_target(arn, listener_arn)
        answer = self.clients.elbv2.modify_listener(ListenerArn=listener_arn, **self._resolve(dict(arguments)))
        record = records.listener({**answer["Listeners"][0], "LoadBalancerArn": arn})
        self.inventory.put_listener(record)
        self._attach(record.target_group_arn, arn, attached=True)
        if before != record.target_group_arn:
            self._attach(before, arn, attached=False)

    def delete_listener(self, load_balancer: str, listener_arn: str, port: int) -> None:
        with tolerating("ListenerNotFound"):
            self.clients.elbv2.delete_listener(ListenerArn=listener_arn)
        record = self.inventory.load_balancers.records.get(load_balancer)
        if record is not None:
            before = self._listener_target(record.arn, listener_arn)
            self.inventory.remove_listener(record.arn, port)
            self._attach(before, record.arn, attached=False)

    # -- Classic ELBs ------------------------------------------------------------------------------------

    def _classic(self, name: str) -> records.ClassicRecord:
        record = self.inventory.classics.records.get(name)
        if record is None:
            raise RetryLater(f"classic load balancer {name} is not known; reading it again")
        return record

    def create_classic(self, name: str, arguments: Mapping[str, Any], groups: list[Any],
                       tags: Mapping[str, str]) -> None:
        resolved = [str(g) for g in self._resolve(groups)]
        with tolerating(*ALREADY["create_classic"]) as already:
            created = self.clients.elb.create_load_balancer(**arguments, SecurityGroups=resolved,
                                                            Tags=as_tag_list(tags))
        if already:
            found = reads.classic(self.clients, name)
            if found is None or not _same_owner(found.tag_map, tags, self.cluster):
                raise NotOwnedError(f"classic load balancer {name}")
            logger.info("classic load balancer %s already exists and is ours (an earlier answer was lost)", name)
            self.inventory.put_classic(found)
            return
        listeners = frozenset(ClassicListener(int(x["LoadBalancerPort"]), str(x["Protocol"]).upper(),
                                              int(x["InstancePort"]), x.get("SSLCertificateId"),
                                              str(x.get("InstanceProtocol") or "TCP").upper())
                              for x in arguments["Listeners"])
        self.inventory.put_classic(records.ClassicRecord(
            tag_tuple(tags), name, str(created["DNSName"]), str(arguments.get("Scheme", "internet-facing")),
            listeners, None, frozenset(), tuple(sorted(arguments["Subnets"])), tuple(sorted(resolved))))

    def _update_classic(self, name: str, **fields: Any) -> None:
        self.inventory.put_classic(dataclasses.replace(self._classic(name), **fields))

    def configure_health_check(self, name: str, health: Mapping[str, Any]) -> None:
        self.clients.elb.configure_health_check(LoadBalancerName=name, HealthCheck=dict(health))  # type: ignore[arg-type]
        self._update_classic(name, health=records.ClassicHealth(
            str(health["Target"]), int(health["Interval"]), int(health["Timeout"]), int(health["HealthyThreshold"]),
            int(health["UnhealthyThreshold"])))

    def delete_classic_listeners(self, name: str, ports: tuple[int, ...]) -> None:
        self.clients.elb.delete_load_balancer_listeners(LoadBalancerName=name, LoadBalancerPorts=list(ports))
        record = self._classic(name)
        self._update_classic(name, listeners=frozenset(x for x in record.listeners if x.port not in ports))

    def create_classic_listeners(self, name: str, listeners: tuple[Mapping[str, Any], ...]) -> None:
        self.clients.elb.create_load_balancer_listeners(
            LoadBalancerName=name, Listeners=[dict(x) for x in listeners])  # type: ignore[misc]
        added = {ClassicListener(int(x["LoadBalancerPort"]), str(x["Protocol"]).upper(), int(x["InstancePort"]),
                                 x.get("SSLCertificateId"), str(x.get("InstanceProtocol") or "TCP").upper())
                 for x in listeners}
        record = self._classic(name)
        ports = {x.port for x in added}
        self._update_classic(name, listeners=frozenset({x for x in record.listeners if x.port not in ports} | added))

    def register_instances(self, name: str, targets: tuple[str, ...]) -> None:
        self.clients.elb.register_instances_with_load_balancer(
            LoadBalancerName=name, Instances=[{"InstanceId": i} for i in targets])
        self._update_classic(name, instances=self._classic(name).instances | set(targets))

    def deregister_instances(self, name: str, targets: tuple[str, ...]) -> None:
        with tolerating("InvalidInstance"):
            self.clients.elb.deregister_instances_from_load_balancer(
                LoadBalancerName=name, Instances=[{"InstanceId": i} for i in targets])
        self._update_classic(name, instances=self._classic(name).instances - set(targets))

    def attach_subnets(self, name: str, subnets: tuple[str, ...]) -> None:
        self.clients.elb.attach_load_balancer_to_subnets(LoadBalancerName=name, Subnets=list(subnets))
        self._update_classic(name, subnets=tuple(sorted(set(self._classic(name).subnets) | set(subnets))))

    def detach_subnets(self, name: str, subnets: tuple[str, ...]) -> None:
        self.clients.elb.detach_load_balancer_from_subnets(LoadBalancerName=name, Subnets=list(subnets))
        self._update_classic(name, subnets=tuple(sorted(set(self._classic(name).subnets) - set(subnets))))

    def apply_classic_groups(self, name: str, groups: list[Any]) -> None:
        resolved = [str(g) for g in self._resolve(groups)]
        self.clients.elb.apply_security_groups_to_load_balancer(LoadBalancerName=name, SecurityGroups=resolved)
        self._update_classic(name, security_groups=tuple(sorted(resolved)))

    def modify_classic_attributes(self, name: str, attributes: Mapping[str, Any], after: str) -> None:
        self.clients.elb.modify_load_balancer_attributes(
            LoadBalancerName=name, LoadBalancerAttributes=dict(attributes))  # type: ignore[arg-type]
        self._update_classic(name, attributes=after)

    def create_proxy_policy(self, name: str, policy: str, policy_type: str) -> None:
        with tolerating("DuplicatePolicyName"):
            self.clients.elb.create_load_balancer_policy(
                LoadBalancerName=name, PolicyName=policy, PolicyTypeName=policy_type,
                PolicyAttributes=[{"AttributeName": "ProxyProtocol", "AttributeValue": "true"}])
        self._update_classic(name, policies=tuple(sorted({*self._classic(name).policies, policy})))

    def set_backend_policies(self, name: str, port: int, policies: tuple[str, ...]) -> None:
        self.clients.elb.set_load_balancer_policies_for_backend_server(
            LoadBalancerName=name, InstancePort=port, PolicyNames=list(policies))
        kept = {p: names for p, names in self._classic(name).backend_policies if p != port}
        if policies:
            kept[port] = tuple(sorted(policies))
        self._update_classic(name, backend_policies=tuple(sorted(kept.items())))

    def untag_classic(self, name: str, keys: tuple[str, ...]) -> None:
        self.clients.elb.remove_tags(LoadBalancerNames=[name], Tags=[{"Key": k} for k in keys])
        record = self._classic(name)
        self._update_classic(name, tags=tag_tuple({k: v for k, v in record.tag_map.items() if k not in keys}))

    def tag_classic(self, name: str, tags: Mapping[str, str]) -> None:
        self.clients.elb.add_tags(LoadBalancerNames=[name], Tags=as_tag_list(tags))
        record = self._classic(name)
        self._update_classic(name, tags=tag_tuple({**record.tag_map, **tags}))

    def delete_classic(self, name: str) -> None:
        with tolerating("LoadBalancerNotFound", "AccessPointNotFound"):
            self.clients.elb.delete_load_balancer(LoadBalancerName=name)
        self.inventory.remove_classic(name)


def tags_of(item: Mapping[str, Any]) -> dict[str, str]:
    return from_tag_list(item.get("Tags"))


__all__ = ["CLASSIC", "GROUP", "LB", "NODE_GROUP", "TG", "Writer", "tags_of"]
