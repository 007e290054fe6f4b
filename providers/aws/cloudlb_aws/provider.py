"""``AWSProvider``: one Service's NLB or Classic ELB, its security group, and garbage collection.

The order of every ``ensure`` is chosen so that a failure at any call leaves
nothing that the next ``ensure`` or ``delete`` cannot find: the security group
(found by name) is created first and records every load-balancer name it
serves; load balancers and target groups have deterministic names and our tags.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cloudlb import problems as p
from cloudlb.legacy import WholeServiceProvider
from cloudlb.model import Ingress, LoadBalancerSpec, LoadBalancerStatus, ServiceRef
from cloudlb.problems import Problem
from cloudlb.provider import NotOwnedError, Offering, ProviderSettings
from cloudlb_aws import annotations as a
from cloudlb_aws import startup
from cloudlb_aws.calls import CallCounter, Clients, create_clients, describe_in_batches, translated_errors
from cloudlb_aws.capabilities import CAPABILITIES
from cloudlb_aws.clb import CLBDeployer, CLBModel, build_clb_model
from cloudlb_aws.naming import (
    CLUSTER_TAG,
    LOAD_BALANCERS_TAG,
    NAME_PREFIX,
    from_tag_list,
    load_balancer_name,
    owner_of,
    tags_to_add,
)
from cloudlb_aws.nlb import NLBDeployer, ObservedNLB, addresses
from cloudlb_aws.nlb_model import NLBModel, build_nlb_model
from cloudlb_aws.placement import PlacementFinder, instance_id
from cloudlb_aws.plugin import DEFAULT_TYPE
from cloudlb_aws.security import SecurityGroups, ingress_rules


def _known_load_balancers(group: dict[str, Any] | None) -> list[str]:
    if group is None:
        return []
    raw = from_tag_list(group.get("Tags")).get(LOAD_BALANCERS_TAG, "")
    return [name for name in raw.split(",") if name]


@dataclass(frozen=True)
class _Parts:
    clients: Clients
    placement: PlacementFinder
    groups: SecurityGroups
    nlb: NLBDeployer
    clb: CLBDeployer


class AWSProvider(WholeServiceProvider):
    capabilities = CAPABILITIES

    def __init__(self, settings: ProviderSettings) -> None:
        self.cluster = settings.cluster_name
        # The core passes options by ProviderOption.key; the dashed name is accepted for direct use.
        chosen = settings.options.get(DEFAULT_TYPE.key) or settings.options.get(DEFAULT_TYPE.name)
        default_type = (chosen or a.NLB).strip().lower()
        if default_type not in (a.NLB, a.CLB):
            raise ValueError(f"--{DEFAULT_TYPE.name} must be nlb or clb, not {default_type!r}")
        self.default_type = default_type
        self.calls = CallCounter()
        self._lock = threading.Lock()
        self._built: _Parts | None = None
        # Services whose last ensure in this process succeeded: their target groups need no scan.
        self._clean: set[ServiceRef] = set()
        # The load balancer each Service's status was last given, so that a replaced one is
        # deleted only once the status points at its successor.
        self._reported: dict[ServiceRef, str] = {}

    # -- the parts that need no cloud ----------------------------------------------------------------

    def offering_for(self, spec: LoadBalancerSpec) -> Offering:
        requested = spec.annotations.get(a.TYPE, "").strip().lower()
        if requested == a.CLB or (requested not in a.KNOWN_TYPES and self.default_type == a.CLB):
            return CAPABILITIES.offering(a.CLB)
        return CAPABILITIES.offering(a.NLB)

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        parsed = a.parse(spec.annotations, internal=spec.internal)
        found = list(parsed.problems)
        if spec.requested_ips:
            found.append(Problem("spec.loadBalancerIP", p.UNSUPPORTED_OPTION,
                                 "AWS load balancers cannot be given an address this way; use "
                                 f"{a.EIP_ALLOCATIONS} (internet-facing) or {a.PRIVATE_IPV4_ADDRESSES} (internal)",
                                 fatal=True))
        if self.offering_for(spec).name == a.CLB:
            for name in (a.EIP_ALLOCATIONS, a.PRIVATE_IPV4_ADDRESSES, a.CROSS_ZONE):
                if name in spec.annotations:
                    found.append(Problem(f"metadata.annotations[{name}]", p.UNSUPPORTED_OPTION,
                                         "applies to Network Load Balancers only; ignored for this Classic ELB"))
        return found

    # -- the cloud ---------------------------------------------------------------------------------

    def check(self) -> None:
        startup.check()

    def _parts(self) -> _Parts:
        """Clients are made on first use, so that the plugin loads and validates without credentials."""
        with self._lock:
            if self._built is None:
                clients = create_clients(self.calls)
                self._built = _Parts(clients, PlacementFinder(clients, self.cluster),
                                     SecurityGroups(clients, self.cluster), NLBDeployer(clients, self.cluster),
                                     CLBDeployer(clients, self.cluster))
            return self._built

    def ensure_service(self, spec: LoadBalancerSpec) -> LoadBalancerStatus:
        try:
            status, name = self._ensure(spec)
        except BaseException:
            with self._lock:
                self._clean.discard(spec.service)
                built = self._built
            if built is not None:
                # A node may have stopped since it was cached: re-read instance states on the retry.
                built.placement.forget_instances([iid for b in spec.backends if (iid := instance_id(b.provider_id))])
            raise
        with self._lock:
            self._clean.add(spec.service)
            self._reported[spec.service] = name
        return status

    def _ensure(self, spec: LoadBalancerSpec) -> tuple[LoadBalancerStatus, str]:
        parts = self._parts()
        finder, groups, nlb, clb = parts.placement, parts.groups, parts.nlb, parts.clb
        service = spec.service
        parsed = a.parse(spec.annotations, internal=spec.internal)
        kind = self.offering_for(spec).name
        with self._lock:
            scan = service not in self._clean
            reported = self._reported.get(service)
        placement = finder.placement(internal=spec.internal, requested=parsed.subnets)

        # Observe the load balancer first: a foreign one with our name stops us before any write.
        model: NLBModel | CLBModel
        observed_nlb: ObservedNLB | None = None
        observed_clb: dict[str, Any] | None = None
        if kind == a.NLB:
            model = build_nlb_model(spec, self.cluster, parsed)
            observed_nlb = nlb.observe(model.name, service)
            found = observed_nlb.load_balancer
        else:
            model = build_clb_model(spec, self.cluster, parsed)
            found = observed_clb = clb.describe(model.name, service)
        own_id = next(iter((found or {}).get("SecurityGroups") or []), None)
        by_instance = finder.instance_groups(sorted(model.instance_ids))
        # Nodes whose instance is stopped, terminated or unknown are not registered: AWS would refuse
        # them and, with them, every other target of this Service.
        not_targets = sorted(model.instance_ids - set(by_instance))
        model = dataclasses.replace(model, instance_ids=frozenset(by_instance))
        node_group_ids = sorted({g for ids in by_instance.values() for g in ids})
        observed_groups = groups.observe(service, vpc_id=placement.vpc_id, own_id=own_id,
                                         node_group_ids=node_group_ids)

        if observed_nlb is not None and scan and observed_groups.own is not None:
            # Without our group nothing of ours can exist: it is created first and deleted last.
            nlb.add_strays(observed_nlb, service)
        own, known = self._own_group(observed_groups.own, spec, model, placement.vpc_id)
        groups.converge_ingress(own, ingress_rules(model.traffic_ports(), spec.source_ranges))

        if isinstance(model, NLBModel):
            assert observed_nlb is not None
            if observed_nlb.load_balancer is None:
                observed_nlb.load_balancer = nlb.create(model, placement, str(own["GroupId"]), parsed)
            nlb.converge(model, observed_nlb, service, placement, parsed)
            load_balancer = observed_nlb.load_balancer
        else:
            load_balancer = observed_clb or clb.create(model, placement, str(own["GroupId"]))
            clb.converge(model, load_balancer, placement)

        chosen, undecided = groups.node_groups_for(observed_groups.nodes, by_instance)
        groups.converge_node_rules(service, str(own["GroupId"]), observed_groups.nodes, chosen)

        warnings = list(model.warnings) if isinstance(model, NLBModel) else []
        if undecided:
            warnings.append(f"instances {', '.join(undecided)} have several security groups and none tagged "
                            f"kubernetes.io/cluster/{self.cluster}; allow the load balancer's group "
                            f"{own['GroupId']} on them yourself")
        if not_targets:
            warnings.append(f"instances {', '.join(not_targets)} are not running (or unknown to EC2); "
                            "they are not registered as targets")
        warnings += self._retire_replaced(service, own, known, model.name, reported)
        ingress = (Ingress(hostname=str(load_balancer["DNSName"])),
                   *(Ingress(ip=ip, ip_mode="VIP") for ip in self._addresses(load_balancer, parsed, finder, kind)))
        port_errors = dict(model.port_errors) if isinstance(model, NLBModel) else {}
        return LoadBalancerStatus(ingress=ingress, port_errors=port_errors, warnings=tuple(warnings)), model.name

    def _own_group(self, own: dict[str, Any] | None, spec: LoadBalancerSpec, model: NLBModel | CLBModel,
                   vpc_id: str) -> tuple[dict[str, Any], list[str]]:
        """The Service's security group, created if missing, naming ``model.name`` among its load balancers."""
        groups = self._parts().groups
        known = _known_load_balancers(own)
        if own is None:
            return groups.create(spec.service, vpc_id=vpc_id,
                                 tags={**model.tags, LOAD_BALANCERS_TAG: model.name}), [model.name]
        changed = tags_to_add(model.tags, from_tag_list(own.get("Tags")))
        if model.name not in known:
            # Recorded before the load balancer exists, so that a crash cannot hide it from delete.
            known.append(model.name)
            changed[LOAD_BALANCERS_TAG] = ",".join(known)
        if changed:
            groups.set_tags(str(own["GroupId"]), changed)
        return own, known

    def _retire_replaced(self, service: ServiceRef, own: dict[str, Any], known: list[str], current: str,
                         reported: str | None) -> list[str]:
        """Delete load balancers this one replaced, once a status has named this one; else say they remain."""
        stale = [name for name in known if name != current]
        if not stale:
            return []
        if reported != current:
            return [f"replaced load balancer {', '.join(stale)} by {current} (AWS cannot change a scheme or type "
                    "in place); the old one is deleted on the next sync, once the status names the new one"]
        for name in stale:
            self._delete_load_balancer(name, service)
        self._parts().groups.set_tags(str(own["GroupId"]), {LOAD_BALANCERS_TAG: current})
        return []

    @staticmethod
    def _addresses(load_balancer: dict[str, Any], parsed: a.AWSAnnotations, finder: PlacementFinder,
                   kind: str) -> list[str]:
        if kind != a.NLB:
            return []
        if parsed.eip_allocations:
            public = finder.public_ips(parsed.eip_allocations)
            return [public[allocation] for allocation in parsed.eip_allocations if allocation in public]
        if parsed.private_ipv4_addresses:
            return list(parsed.private_ipv4_addresses)
        return addresses(load_balancer)

    def _candidate_names(self, service: ServiceRef) -> dict[str, str]:
        return {load_balancer_name(self.cluster, service, kind, internal): kind
                for kind in (a.NLB, a.CLB) for internal in (False, True)}

    def _delete_load_balancer(self, name: str, service: ServiceRef) -> None:
        nlb, clb = self._parts().nlb, self._parts().clb
        kind = self._candidate_names(service).get(name)
        if kind == a.NLB:
            nlb.delete(name, service)
        elif kind == a.CLB:
            clb.delete(name, service)

    def delete_service(self, service: ServiceRef) -> None:
        """Load balancers, then target groups, then node rules, then the security group; missing parts are fine."""
        groups, nlb = self._parts().groups, self._parts().nlb
        try:
            own = groups.find(service, vpc_id=None)
        except NotOwnedError:
            own = None  # a foreign group that happens to have our name is left alone
        # The group names every load balancer it served; without it (or its tag), try every name we could use.
        names = _known_load_balancers(own) or list(self._candidate_names(service))
        for name in names:
            self._delete_load_balancer(name, service)
        nlb.delete_strays(service)
        if own is not None:
            groups.remove_node_rules(str(own["GroupId"]), str(own["VpcId"]))
            groups.delete(str(own["GroupId"]))
        with self._lock:
            self._clean.discard(service)
            self._reported.pop(service, None)

    def owned_services(self) -> Sequence[ServiceRef]:
        """Every Service with a security group, load balancer or target group tagged for this cluster."""
        clients, nlb = self._parts().clients, self._parts().nlb
        owners: set[ServiceRef] = set()

        def add(tags: dict[str, str]) -> None:
            owner = owner_of(tags, self.cluster)
            if owner is not None:
                owners.add(owner)

        with translated_errors("listing owned resources"):
            pages = clients.ec2.get_paginator("describe_security_groups").paginate(
                Filters=[{"Name": f"tag:{CLUSTER_TAG}", "Values": [self.cluster]}])
            for page in pages:
                for group in page["SecurityGroups"]:
                    add(from_tag_list(group.get("Tags")))
            v2_pages = clients.elbv2.get_paginator("describe_load_balancers").paginate()
            arns = [str(lb["LoadBalancerArn"]) for page in v2_pages for lb in page["LoadBalancers"]
                    if str(lb["LoadBalancerName"]).startswith(NAME_PREFIX)]
            arns += [str(g["TargetGroupArn"]) for g in nlb.scan_target_groups(NAME_PREFIX)]
            for tags in nlb.tags(arns).values():
                add(tags)
            classic_pages = clients.elb.get_paginator("describe_load_balancers").paginate()
            names = [str(lb["LoadBalancerName"]) for page in classic_pages for lb in page["LoadBalancerDescriptions"]
                     if str(lb["LoadBalancerName"]).startswith(NAME_PREFIX)]

            def classic_tags(batch: list[str]) -> list[dict[str, str]]:
                response = clients.elb.describe_tags(LoadBalancerNames=batch)
                return [from_tag_list(d.get("Tags")) for d in response["TagDescriptions"]]
            for tags in describe_in_batches(names, classic_tags):
                add(tags)
        return sorted(owners)


