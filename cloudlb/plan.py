"""Fitting a translated Service to what the provider's chosen offering can serve. Pure."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

from cloudlb import problems as p
from cloudlb.annotations import unhonoured_annotations
from cloudlb.model import REQUIRE_DUAL_STACK, LoadBalancerSpec, Protocol
from cloudlb.problems import Problem
from cloudlb.provider import Offering, Provider
from cloudlb.translate import Translation


@dataclass(frozen=True)
class Plan:
    """The spec to ensure (only servable ports) and every problem found on the way."""

    spec: LoadBalancerSpec
    offering: Offering
    problems: tuple[Problem, ...]

    @property
    def fatal(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.fatal)

    @property
    def port_problems(self) -> tuple[Problem, ...]:
        return tuple(problem for problem in self.problems if problem.port is not None)


def plan(translation: Translation, provider: Provider[Any]) -> Plan:
    spec = translation.spec
    found = list(translation.problems)
    offering = provider.offering_for(spec)

    servable = [port for port in spec.ports if port.protocol in offering.protocols]
    if offering.needs_node_ports:
        for port in [q for q in servable if q.node_port is None]:
            found.append(Problem(
                f"spec.ports[{port.port}/{port.protocol}].nodePort", p.MISSING_NODE_PORT,
                f"port {port.port}/{port.protocol} has no nodePort (is allocateLoadBalancerNodePorts false?); "
                f"the {offering.description} sends traffic to node ports and cannot reach it",
                port=port.key,
            ))
            servable.remove(port)
    for port in spec.ports:
        if port.protocol not in offering.protocols:
            served = ", ".join(sorted(offering.protocols))
            others = "; the other ports are served" if servable else ""
            found.append(Problem(
                f"spec.ports[{port.port}/{port.protocol}]", p.PROTOCOL_NOT_SUPPORTED,
                f"{port.protocol} is not supported by the {offering.description} (it serves {served}){others}",
                port=port.key,
            ))

    if not offering.same_port_tcp_udp:
        by_number = Counter(port.port for port in servable)
        for port in [q for q in servable if by_number[q.port] > 1 and q.protocol != Protocol.TCP]:
            found.append(Problem(
                f"spec.ports[{port.port}/{port.protocol}]", p.PROTOCOL_NOT_SUPPORTED,
                f"the {offering.description} cannot serve TCP and {port.protocol} on the same port {port.port}",
                port=port.key,
            ))
            servable.remove(port)

    if len(servable) > offering.max_ports:
        found.append(Problem(
            "spec.ports", p.TOO_MANY_PORTS,
            f"{len(servable)} ports exceed the {offering.description}'s limit of {offering.max_ports}",
            fatal=True,
        ))

    families = _families(spec, offering, found)
    if offering.targets == "endpoints":
        # Node churn must not change the spec of a load balancer that targets Pods.
        spec = dataclasses.replace(spec, ports=tuple(servable), ip_families=families, backends=())
    else:
        # Endpoint churn must not change the spec of a load balancer that targets nodes.
        spec = dataclasses.replace(spec, ports=tuple(servable), ip_families=families, endpoints=(),
                                   endpoint_ports=())
    found.extend(provider.validate(spec))
    found.extend(unhonoured_annotations(spec.annotations, provider.capabilities))
    return Plan(spec=spec, offering=offering, problems=tuple(found))


def _families(spec: LoadBalancerSpec, offering: Offering, found: list[Problem]) -> tuple[str, ...]:
    """The Service's IP families this offering can serve.

    The primary family, or any family of a ``RequireDualStack`` Service, that
    the offering cannot serve stops the Service; a ``PreferDualStack`` Service
    is served on the families it can have, with a problem naming the missing one.
    """
    supported = tuple(family for family in spec.ip_families if family in offering.ip_families)
    missing = [family for family in spec.ip_families if family not in offering.ip_families]
    if not missing:
        return spec.ip_families
    fatal = not supported or spec.ip_family_policy == REQUIRE_DUAL_STACK or spec.ip_families[0] in missing
    can = ", ".join(sorted(offering.ip_families))
    found.append(Problem(
        "spec.ipFamilies", p.IP_FAMILY_NOT_SUPPORTED,
        f"the {offering.description} serves {can} only; {'/'.join(missing)} cannot be served"
        + ("" if fatal else f" (ipFamilyPolicy {spec.ip_family_policy}: served on {'/'.join(supported)})"),
        fatal=fatal,
    ))
    return supported or spec.ip_families
