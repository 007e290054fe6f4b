"""Every read the provider makes, batched: the biggest pages AWS serves, 20 names or ARNs per Describe.

List calls feed the sweep (``list_*``); the by-name reads (``get_*``) refresh
what a failed write left uncertain, or what the inventory never held (the
listeners of a load balancer, the targets of a target group).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cloudlb_aws import records
from cloudlb_aws.calls import DESCRIBE_BATCH, Clients, batches, ignoring, translated_errors
from cloudlb_aws.naming import CLUSTER_TAG, NAME_PREFIX, from_tag_list
from cloudlb_aws.placement import INTERNAL_ROLE_TAG, PUBLIC_ROLE_TAG
from cloudlb_aws.records import (
    ClassicRecord,
    InstanceRecord,
    ListenerRecord,
    LoadBalancerRecord,
    SecurityGroupRecord,
    Subnet,
    TargetGroupRecord,
)

# The largest pages the APIs serve: DescribeLoadBalancers and DescribeTargetGroups take 400, EC2 1000.
ELB_PAGE = 400
EC2_PAGE = 1000
# Values per EC2 filter.
FILTER_VALUES = 200
CROSS_ZONE = "load_balancing.cross_zone.enabled"


def ours_by_name(name: str) -> bool:
    return name.startswith(NAME_PREFIX)


# -- tags ------------------------------------------------------------------------------------------------


def elbv2_tags(clients: Clients, arns: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for batch in batches(sorted(set(arns)), DESCRIBE_BATCH):
        with translated_errors("reading tags"):
            response = clients.elbv2.describe_tags(ResourceArns=batch)
        for description in response["TagDescriptions"]:
            found[str(description["ResourceArn"])] = from_tag_list(description.get("Tags"))
    return found


def classic_tags(clients: Clients, names: Sequence[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for batch in batches(sorted(set(names)), DESCRIBE_BATCH):
        with translated_errors("reading tags of classic load balancers"):
            response = clients.elb.describe_tags(LoadBalancerNames=batch)
        for description in response["TagDescriptions"]:
            found[str(description["LoadBalancerName"])] = from_tag_list(description.get("Tags"))
    return found


# -- listings for the sweep ------------------------------------------------------------------------------


def list_load_balancers(clients: Clients) -> list[dict[str, Any]]:
    """Every Network Load Balancer of the region whose name has cloudlb's prefix."""
    with translated_errors("listing load balancers"):
        pages = clients.elbv2.get_paginator("describe_load_balancers").paginate(
            PaginationConfig={"PageSize": ELB_PAGE})
        return [dict(lb) for page in pages for lb in page["LoadBalancers"]
                if ours_by_name(str(lb["LoadBalancerName"])) and lb.get("Type", "network") == "network"]


def list_target_groups(clients: Clients) -> list[dict[str, Any]]:
    with translated_errors("listing target groups"):
        pages = clients.elbv2.get_paginator("describe_target_groups").paginate(
            PaginationConfig={"PageSize": ELB_PAGE})
        return [dict(g) for page in pages for g in page["TargetGroups"] if ours_by_name(str(g["TargetGroupName"]))]


def list_classics(clients: Clients) -> list[dict[str, Any]]:
    with translated_errors("listing classic load balancers"):
        pages = clients.elb.get_paginator("describe_load_balancers").paginate(
            PaginationConfig={"PageSize": ELB_PAGE})
        return [dict(lb) for page in pages for lb in page["LoadBalancerDescriptions"]
                if ours_by_name(str(lb["LoadBalancerName"]))]


def list_own_groups(clients: Clients, cluster: str) -> dict[str, SecurityGroupRecord]:
    """The cluster's own security groups (tagged ``cloudlb.io/cluster``), by name."""
    with translated_errors("listing the cluster's security groups"):
        pages = clients.ec2.get_paginator("describe_security_groups").paginate(
            Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster]}], PaginationConfig={"PageSize": EC2_PAGE})
        return {g.name: g for page in pages for item in page["SecurityGroups"]
                if (g := records.security_group(item))}


def groups_by_id(clients: Clients, ids: Iterable[str]) -> dict[str, SecurityGroupRecord]:
    found: dict[str, SecurityGroupRecord] = {}
    for batch in batches(sorted(set(ids)), FILTER_VALUES):
        with translated_errors("describing the nodes' security groups"):
            # A filter, not GroupIds=: one group deleted meanwhile must not fail the whole call.
            pages = clients.ec2.get_paginator("describe_security_groups").paginate(
                Filters=[{"Name": "group-id", "Values": batch}], PaginationConfig={"PageSize": EC2_PAGE})
            for page in pages:
                for item in page["SecurityGroups"]:
                    record = records.security_group(item)
                    found[record.group_id] = record
    return found


def list_subnets(clients: Clients) -> tuple[Subnet, ...]:
    """Every subnet tagged for internet-facing or internal load balancers.

    Listed whole and filtered here: one call per 1,000 subnets, where a tag filter would take one per role.
    """
    roles = (PUBLIC_ROLE_TAG, INTERNAL_ROLE_TAG)
    with translated_errors("listing subnets"):
        pages = clients.ec2.get_paginator("describe_subnets").paginate(PaginationConfig={"PageSize": EC2_PAGE})
        found = [records.subnet(s) for page in pages for s in page["Subnets"]]
    return tuple(sorted(subnet for subnet in found if any(key in roles for key, _ in subnet.tags)))


def instances(clients: Clients, *, vpc_ids: Iterable[str] = (), instance_ids: Iterable[str] = ()) -> dict[
        str, InstanceRecord]:
    """Instances of whole VPCs, or by id (a filter: one unknown id must not fail the lookup)."""
    found: dict[str, InstanceRecord] = {}
    for name, values in (("vpc-id", sorted(set(vpc_ids))), ("instance-id", sorted(set(instance_ids)))):
        for batch in batches(values, FILTER_VALUES):
            with translated_errors("looking up node instances"):
                pages = clients.ec2.get_paginator("describe_instances").paginate(
                    Filters=[{"Name": name, "Values": batch}], PaginationConfig={"PageSize": EC2_PAGE})
                for page in pages:
                    for reservation in page["Reservations"]:
                        for item in reservation.get("Instances", []):
                            record = records.instance(item)
                            found[record.instance_id] = record
    return found


# -- by name ---------------------------------------------------------------------------------------------


def load_balancer(clients: Clients, name: str) -> LoadBalancerRecord | None:
    found: Sequence[Any] = ()
    with translated_errors(f"describing load balancer {name}"), ignoring("LoadBalancerNotFound"):
        found = clients.elbv2.describe_load_balancers(Names=[name])["LoadBalancers"]
    if not found:
        return None
    arn = str(found[0]["LoadBalancerArn"])
    return records.load_balancer(found[0], elbv2_tags(clients, [arn]).get(arn, {}))


def listeners_of(clients: Clients, load_balancer_arn: str) -> dict[int, ListenerRecord] | None:
    """None when the load balancer is gone."""
    found: dict[int, ListenerRecord] | None = None
    with translated_errors("describing listeners"), ignoring("LoadBalancerNotFound"):
        pages = clients.elbv2.get_paginator("describe_listeners").paginate(LoadBalancerArn=load_balancer_arn)
        found = {r.port: r for page in pages for item in page["Listeners"] if (r := records.listener(item))}
    return found


def listeners_by_arn(clients: Clients, arns: Sequence[str]) -> dict[str, ListenerRecord] | None:
    """Listeners by ARN, 20 a call, of several load balancers at once; None when AWS refused a batch (one of
    them is gone, or the API would not mix load balancers): the caller reads per load balancer then."""
    found: dict[str, ListenerRecord] = {}
    for batch in batches(sorted(set(arns)), DESCRIBE_BATCH):
        response: Mapping[str, Any] | None = None
        with translated_errors("describing listeners"), ignoring("ListenerNotFound", "ValidationError"):
            response = clients.elbv2.describe_listeners(ListenerArns=batch)
        if response is None:
            return None
        for item in response["Listeners"]:
            record = records.listener(item)
            found[record.arn] = record
    return found


def target_group(clients: Clients, name: str) -> TargetGroupRecord | None:
    found: Sequence[Any] = ()
    with translated_errors(f"describing target group {name}"), ignoring("TargetGroupNotFound"):
        found = clients.elbv2.describe_target_groups(Names=[name])["TargetGroups"]
    if not found:
        return None
    arn = str(found[0]["TargetGroupArn"])
    return records.target_group(found[0], elbv2_tags(clients, [arn]).get(arn, {}))


def targets_of(clients: Clients, group_arn: str) -> frozenset[str] | None:
    """The registered targets (draining ones are on their way out); None when the group is gone."""
    found: Mapping[str, Any] = {}
    with translated_errors("reading targets"), ignoring("TargetGroupNotFound"):
        found = clients.elbv2.describe_target_health(TargetGroupArn=group_arn)
    if not found:
        return None
    return frozenset(str(d["Target"]["Id"]) for d in found["TargetHealthDescriptions"]
                     if (d.get("TargetHealth") or {}).get("State") != "draining")


def cross_zone(clients: Clients, load_balancer_arn: str) -> bool:
    with translated_errors("reading load balancer attributes"):
        attributes = clients.elbv2.describe_load_balancer_attributes(LoadBalancerArn=load_balancer_arn)["Attributes"]
    return {a.get("Key"): a.get("Value") for a in attributes}.get(CROSS_ZONE) == "true"


def classic(clients: Clients, name: str) -> ClassicRecord | None:
    found: Sequence[Any] = ()
    with translated_errors(f"describing classic load balancer {name}"), ignoring(
            "LoadBalancerNotFound", "AccessPointNotFound"):
        found = clients.elb.describe_load_balancers(LoadBalancerNames=[name])["LoadBalancerDescriptions"]
    if not found:
        return None
    return records.classic(found[0], classic_tags(clients, [name]).get(name, {}))


def group_by_name(clients: Clients, name: str, vpc_id: str | None = None) -> list[SecurityGroupRecord]:
    filters = [{"Name": "group-name", "Values": [name]}]
    if vpc_id:
        filters.append({"Name": "vpc-id", "Values": [vpc_id]})
    with translated_errors(f"describing security group {name}"):
        found = clients.ec2.describe_security_groups(Filters=filters)["SecurityGroups"]  # type: ignore[arg-type]
    return [records.security_group(item) for item in found]


def groups_by_name_tag(clients: Clients, names: Sequence[str]) -> dict[str, tuple[tuple[str, str], ...]]:
    """(group id, VPC id) of every security group carrying each ``Name`` tag value; () for a name none carries."""
    found: dict[str, list[tuple[str, str]]] = {name: [] for name in names}
    for batch in batches(sorted(set(names)), DESCRIBE_BATCH):
        with translated_errors("looking up the security groups the annotations name"):
            pages = clients.ec2.get_paginator("describe_security_groups").paginate(
                Filters=[{"Name": "tag:Name", "Values": batch}])
            for page in pages:
                for item in page["SecurityGroups"]:
                    name = {t.get("Key"): t.get("Value") for t in item.get("Tags", [])}.get("Name")
                    if name in found:
                        found[name].append((str(item["GroupId"]), str(item.get("VpcId", ""))))
    return {name: tuple(sorted(groups)) for name, groups in found.items()}


def requested_subnets(clients: Clients, wanted: Sequence[str]) -> dict[str, Subnet | None]:
    """Annotated subnets by id or Name tag; None for each that does not exist."""
    ids = [w for w in wanted if w.startswith("subnet-")]
    names = [w for w in wanted if not w.startswith("subnet-")]
    raw: list[Any] = []
    with translated_errors("looking up the annotated subnets"):
        if ids:
            raw += clients.ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": ids}])["Subnets"]
        if names:
            raw += clients.ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": names}])["Subnets"]
    found: dict[str, Subnet | None] = dict.fromkeys(wanted)
    for item in raw:
        subnet = records.subnet(item)
        found[subnet.subnet_id] = subnet
        name = dict(subnet.tags).get("Name")
        if name in found:
            found[name] = subnet
    return found


def public_ips(clients: Clients, allocation_ids: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for batch in batches(sorted(set(allocation_ids)), DESCRIBE_BATCH):
        with translated_errors("looking up Elastic IPs"):
            for address in clients.ec2.describe_addresses(AllocationIds=batch)["Addresses"]:
                found[str(address.get("AllocationId", ""))] = str(address.get("PublicIp", ""))
    return found


def target_group_attributes(clients: Clients, group_arn: str) -> dict[str, str]:
    with translated_errors("reading target group attributes"):
        found = clients.elbv2.describe_target_group_attributes(TargetGroupArn=group_arn)["Attributes"]
    return {str(a.get("Key")): str(a.get("Value")) for a in found}


def load_balancer_attributes(clients: Clients, load_balancer_arn: str) -> dict[str, str]:
    with translated_errors("reading load balancer attributes"):
        found = clients.elbv2.describe_load_balancer_attributes(LoadBalancerArn=load_balancer_arn)["Attributes"]
    return {str(a.get("Key")): str(a.get("Value")) for a in found}


def classic_attributes(clients: Clients, name: str) -> dict[str, Any]:
    with translated_errors(f"reading attributes of classic load balancer {name}"):
        return dict(clients.elb.describe_load_balancer_attributes(LoadBalancerName=name)["LoadBalancerAttributes"])
