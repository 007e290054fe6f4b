"""The GCP provider: backend-service based passthrough Network Load Balancers, external or internal.

``ensure`` builds the desired state of each resource from the spec and
converges them one by one in dependency order (address, health check, instance
groups, firewalls, then forwarding rules around the backend service), changing
only what differs. ``delete`` goes the other way and tolerates missing parts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from google.cloud import compute_v1

from cloudlb.legacy import WholeServiceProvider
from cloudlb.model import Ingress, LoadBalancerSpec, LoadBalancerStatus, ServiceRef
from cloudlb.problems import Problem
from cloudlb.provider import Capabilities, NotOwnedError, Offering, RetryLater
from cloudlb_gcp import gke_annotations, startup
from cloudlb_gcp.capabilities import CAPABILITIES
from cloudlb_gcp.compute import READ_RETRY, REQUEST_TIMEOUT, Compute
from cloudlb_gcp.instances import InstanceDirectory, InstanceNetwork, InstanceRef, parse_provider_id
from cloudlb_gcp.locks import SharedUse
from cloudlb_gcp.names import LoadBalancerNames, instance_group_name, names_for
from cloudlb_gcp.ownership import OwnerMark, read_mark
from cloudlb_gcp.resources import (
    address,
    backend_service,
    firewalls,
    forwarding_rules,
    health_check,
    instance_groups,
)
from cloudlb_gcp.resources.calls import read

log = logging.getLogger(__name__)


class GCPProvider(WholeServiceProvider):
    capabilities: Capabilities = CAPABILITIES

    def __init__(self, cluster_name: str, compute: Compute) -> None:
        self.cluster_name = cluster_name
        self.compute = compute
        self.instances = InstanceDirectory(compute)
        self.group_name = instance_group_name(cluster_name)
        self.cluster_mark = OwnerMark(cluster_name)
        # The instance groups are shared by every Service of the cluster, and ensures run in parallel
        # worker threads: membership is read, diffed and written by one of them at a time, and a group
        # is only deleted while no ensure is between creating it and referencing it.
        self._membership = threading.Lock()
        self._groups = SharedUse()

    def offering_for(self, spec: LoadBalancerSpec) -> Offering:
        return self.capabilities.offering("internal" if spec.internal else "external")

    def check(self) -> None:
        startup.check(self.compute)

    def validate(self, spec: LoadBalancerSpec) -> Sequence[Problem]:
        return gke_annotations.validate(spec)

    # -- ensure ----------------------------------------------------------------------------------------

    def ensure_service(self, spec: LoadBalancerSpec) -> LoadBalancerStatus:
        compute = self.compute
        names = names_for(self.cluster_name, spec.service)
        mark = OwnerMark(self.cluster_name, spec.service)
        options = gke_annotations.read_options(spec.annotations)
        found, left_out = self._existing_instances(spec)
        networks = list(found.values())
        network = networks[0].network if networks else None
        subnetwork = self._subnetwork(options, networks) if spec.internal else None

        rules_now = forwarding_rules.observe(compute, names)
        forwarding_rules.check_owned(rules_now, mark)
        chosen = self._address(spec, options, names, mark, subnetwork, rules_now)
        check_link = health_check.ensure(compute, names.health_check, mark, spec.health_check)
        with self._groups.shared():
            with self._membership:
                groups = instance_groups.ensure(compute, self.group_name, self.cluster_mark,
                                                instance_groups.by_zone(found), network)
            service_now = backend_service.get(compute, names.backend_service)
            if network is not None:
                # Without a node there is no network to learn; firewalls come with the first node.
                self._ensure_firewalls(spec, names, mark, network, networks, chosen.ip)
            frontend = forwarding_rules.Frontend(
                ip=chosen.ip, backend_service=compute.regional("backendServices", names.backend_service),
                internal=spec.internal, network=network, subnetwork=subnetwork,
                global_access=options.global_access,
            )
            wanted = forwarding_rules.plan(names, mark, spec.ports, frontend)
            # Rules go first so that the backend service may change protocol or scheme, then come back.
            kept = forwarding_rules.remove_stale(compute, rules_now, wanted)
            backend_service.ensure(compute, backend_service.desired(
                names.backend_service, mark, "INTERNAL" if spec.internal else "EXTERNAL",
                backend_service.protocol_for({r.I_p_protocol for r in wanted}), check_link, groups,
            ), mark, service_now)
        forwarding_rules.create_missing(compute, kept, wanted)

        if not chosen.ours:
            address.release(compute, names.address, mark)
        if service_now is not None:
            used_before = instance_groups.zones_of(b.group for b in service_now.backends)
            self._remove_unused_groups(used_before - instance_groups.zones_of(groups))
        return LoadBalancerStatus(ingress=(Ingress(ip=chosen.ip, ip_mode="VIP"),), warnings=tuple(left_out))

    def _existing_instances(self, spec: LoadBalancerSpec,
                            ) -> tuple[dict[InstanceRef, InstanceNetwork], list[str]]:
        """The backends' instances that exist with their networks, and a warning for each node left out."""
        found: dict[InstanceRef, InstanceNetwork] = {}
        left_out = []
        for backend in sorted(spec.backends):
            ref = parse_provider_id(backend.provider_id)
            if ref is None:
                left_out.append(f"node {backend.node_name}: its provider id {backend.provider_id!r} is not "
                                "gce://PROJECT/ZONE/INSTANCE; left out of the load balancer")
                continue
            network = self.instances.network_of(ref)
            if network is None:
                left_out.append(f"node {backend.node_name}: its instance {ref.link} does not exist; "
                                "left out of the load balancer")
            else:
                found.setdefault(ref, network)
        return found, left_out

    def _ensure_firewalls(self, spec: LoadBalancerSpec, names: LoadBalancerNames, mark: OwnerMark, network: str,
                          networks: list[InstanceNetwork], ip: str) -> None:
        # Upstream targets each node's first network tag; a rule without tags still only admits traffic
        # addressed to the load balancer's IP (the traffic rule) or to the health-check port.
        tags = sorted({n.tags[0] for n in networks if n.tags})
        firewalls.ensure(self.compute, firewalls.traffic_rule(
            names.traffic_firewall, mark, network, spec.ports, ip, spec.source_ranges, tags), mark)
        firewalls.ensure(self.compute, firewalls.health_check_rule(
            names.health_check_firewall, mark, network, spec.health_check.port, spec.internal, tags), mark)

    def _remove_unused_groups(self, zones: set[str]) -> None:
        if zones:
            with self._groups.exclusive():
                instance_groups.remove_unused(self.compute, self.group_name, self.cluster_mark, zones)

    def _subnetwork(self, options: gke_annotations.GCPOptions, networks: list[InstanceNetwork]) -> str:
        if options.subnet:
            return self.compute.regional("subnetworks", options.subnet)
        if networks:
            return networks[0].subnetwork
        raise RetryLater("an internal load balancer needs a subnetwork: name one with "
                         f"{gke_annotations.SUBNET} or wait for a node to learn it from", delay=30)

    def _address(self, spec: LoadBalancerSpec, options: gke_annotations.GCPOptions, names: LoadBalancerNames,
                 mark: OwnerMark, subnetwork: str | None,
                 rules_now: dict[str, compute_v1.ForwardingRule]) -> address.ChosenAddress:
        """The IP to serve on: a user's reserved address, else our own (re-reserved when it no longer fits)."""
        compute = self.compute
        if options.address_names:
            # GKE takes one IPv4 and one IPv6 name; the IPv4 one is served here.
            chosen = [address.users_address(compute, name, spec.internal, mark) for name in options.address_names]
            return next((c for c in chosen if ":" not in c.ip), chosen[0])
        requested = spec.requested_ips[0] if spec.requested_ips else None
        if requested:
            existing = address.reserved_with_ip(compute, requested)
            if existing is not None and existing.name != names.address:
                return address.use_reserved(existing, spec.internal, mark)
        own = address.own_address(compute, names.address)
        if own is not None and read_mark(own.description) == mark and not address.fits(
                own, spec.internal, subnetwork, requested):
            # The rules hold the old IP; they go first, and are recreated on the new one.
            forwarding_rules.remove_all(compute, names, mark)
            rules_now.clear()
            address.release(compute, names.address, mark)
            own = None
        return address.reserve(compute, names.address, mark, spec.internal, subnetwork, requested, own)

    # -- delete and list ------------------------------------------------------------------------------

    def delete_service(self, service: ServiceRef) -> None:
        compute = self.compute
        names = names_for(self.cluster_name, service)
        mark = OwnerMark(self.cluster_name, service)
        forwarding_rules.remove_all(compute, names, mark)
        used_groups = backend_service.remove(compute, names.backend_service, mark)
        health_check.remove(compute, names.health_check, mark)
        firewalls.remove(compute, names.traffic_firewall, mark)
        firewalls.remove(compute, names.health_check_firewall, mark)
        address.release(compute, names.address, mark)
        self._remove_unused_groups(
            instance_groups.zones_of(used_groups) | instance_groups.cluster_zones(compute, self.group_name))

    def owned_services(self) -> Sequence[ServiceRef]:
        compute = self.compute
        regional = {**compute.in_region, "retry": READ_RETRY, "timeout": REQUEST_TIMEOUT}
        listings = [
            read("listing forwarding rules", lambda: list(compute.forwarding_rules.list(**regional))),
            read("listing backend services", lambda: list(compute.backend_services.list(**regional))),
            read("listing health checks", lambda: list(compute.health_checks.list(**regional))),
            read("listing addresses", lambda: list(compute.addresses.list(**regional))),
            read("listing firewalls", lambda: list(compute.firewalls.list(
                project=compute.project, retry=READ_RETRY, timeout=REQUEST_TIMEOUT))),
        ]
        owned = set()
        for listing in listings:
            for resource in listing or ():
                mark = read_mark(resource.description)
                if mark is not None and mark.cluster == self.cluster_name and mark.service is not None:
                    owned.add(mark.service)
        return sorted(owned)


__all__ = ["GCPProvider", "NotOwnedError"]
