"""What the real API server does to a Service on create and update.

Defaults (protocol, targetPort, policies), allocation of ``clusterIP``,
``nodePort``s and ``healthCheckNodePort``, the type-change clean-up and the
validation errors a controller can run into. Allocations are derived from the
Services in the store (excluding the one being written), so a failed write or a
removed Service cannot leak a port.
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Iterable
from typing import Any

from cloudlb.kubeapi import errors, service_fields
from cloudlb.kubeapi.errors import FieldCause
from cloudlb.kubeapi.writes import WriteOptions

Obj = dict[str, Any]

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
TRAFFIC_POLICIES = ("Cluster", "Local")
_EXTERNAL_TYPES = ("NodePort", "LoadBalancer")


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f'"{value}"' for value in values)


def node_ports_of(service: Obj) -> set[int]:
    """Every node port a Service holds (service ports and the health check port)."""
    spec = service.get("spec") or {}
    held = {port["nodePort"] for port in spec.get("ports") or [] if isinstance(port, dict)
            and isinstance(port.get("nodePort"), int) and port["nodePort"]}
    if isinstance(spec.get("healthCheckNodePort"), int) and spec["healthCheckNodePort"]:
        held.add(spec["healthCheckNodePort"])
    return held


def _node_ports_by_port(spec: dict[str, Any]) -> dict[tuple[Any, Any], Any]:
    """A stored spec's node port for each (port, protocol)."""
    return {(port.get("port"), port.get("protocol", "TCP")): port.get("nodePort")
            for port in spec.get("ports") or [] if isinstance(port, dict)}


class ServiceAdmission:
    """Defaulting, allocation and validation of v1 Services."""

    def __init__(self, service_cidr: str = "10.96.0.0/12", node_port_range: tuple[int, int] = (30000, 32767),
                 rng: random.Random | None = None, dual_stack: bool = False,
                 ipv6_service_cidr: str = "fd00:10:96::/112") -> None:
        """``dual_stack``: the cluster has both families (kube-apiserver with an IPv4 and an IPv6 service CIDR)."""
        self.service_cidr = ipaddress.IPv4Network(service_cidr)
        self.dual_stack = dual_stack
        self.ipv6_service_cidr = ipaddress.IPv6Network(ipv6_service_cidr)
        self.node_port_range = node_port_range
        self._rng = rng or random.Random()

    def admit(self, new: Obj, old: Obj | None, others: Iterable[Obj], options: WriteOptions) -> None:
        others = list(others)
        name = new["metadata"]["name"]
        spec = new.get("spec")
        if not isinstance(spec, dict):
            spec = new["spec"] = {}
        old_spec: dict[str, Any] = (old or {}).get("spec") or {}
        causes: list[FieldCause] = []
        service_type = spec.setdefault("type", "ClusterIP")
        if service_type not in SERVICE_TYPES:
            causes.append(FieldCause("spec.type", f'Unsupported value: "{service_type}": supported values: '
                                     f"{_quoted(SERVICE_TYPES)}", "FieldValueNotSupported"))
            raise errors.invalid("Service", name, causes)
        if old is not None:
            self._drop_fields_no_longer_needed(spec, old_spec)
        ports = spec.get("ports") or []
        if not isinstance(ports, list) or not all(isinstance(port, dict) for port in ports):
            causes.append(FieldCause("spec.ports", "Invalid value: ports must be a list of objects"))
            raise errors.invalid("Service", name, causes)
        self._default(spec, ports)
        if options.validate:
            causes += self._validate(spec, old_spec, ports, old is not None)
            causes += self._validate_fields_cloudlb_reads(new, spec, old_spec, ports)
        if causes:
            raise errors.invalid("Service", name, causes)
        options.warnings.extend(service_fields.warnings(spec))
        causes += self._allocate_cluster_ip(spec, old_spec, others)
        causes += self._allocate_node_ports(spec, old_spec, ports, others)
        if causes:
            raise errors.invalid("Service", name, causes)
        new.setdefault("status", {}).setdefault("loadBalancer", {})

    # --- defaults and validation ----------------------------------------------------------------

    def _validate_fields_cloudlb_reads(self, new: Obj, spec: dict[str, Any], old_spec: dict[str, Any],
                                       ports: list[dict[str, Any]]) -> list[FieldCause]:
        annotations = new["metadata"].get("annotations") or {}
        return [*service_fields.port_names(ports),
                *service_fields.source_ranges(spec, annotations if isinstance(annotations, dict) else {}),
                *service_fields.external_ips(spec),
                *service_fields.ip_families(spec, dual_stack=self.dual_stack),
                *service_fields.health_check_node_port(spec, old_spec)]

    @staticmethod
    def _drop_fields_no_longer_needed(spec: dict[str, Any], old_spec: dict[str, Any]) -> None:
        """Clear what the old type or policy needed, unless the user changed it too (as upstream does)."""
        service_type = spec["type"]
        needed_health_check = (old_spec.get("type") == "LoadBalancer"
                               and old_spec.get("externalTrafficPolicy") == "Local")
        needs_health_check = service_type == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"
        if needed_health_check and not needs_health_check and \
                spec.get("healthCheckNodePort") == old_spec.get("healthCheckNodePort"):
            spec.pop("healthCheckNodePort", None)
        if old_spec.get("type") == service_type:
            return
        if service_type not in _EXTERNAL_TYPES:
            old_node_ports = _node_ports_by_port(old_spec)
            for port in spec.get("ports") or []:
                if not isinstance(port, dict):
                    continue
                same = old_node_ports.get((port.get("port"), port.get("protocol", "TCP")))
                if "nodePort" in port and port["nodePort"] == same:
                    del port["nodePort"]
            if spec.get("externalTrafficPolicy") == old_spec.get("externalTrafficPolicy"):
                spec.pop("externalTrafficPolicy", None)
        if service_type != "LoadBalancer":
            for field_name in ("healthCheckNodePort", "loadBalancerClass", "allocateLoadBalancerNodePorts"):
                if field_name in spec and spec[field_name] == old_spec.get(field_name):
                    del spec[field_name]

    @staticmethod
    def _default(spec: dict[str, Any], ports: list[dict[str, Any]]) -> None:
        service_type = spec["type"]
        for port in ports:
            port.setdefault("protocol", "TCP")
            if port.get("targetPort") in (None, 0, ""):
                port["targetPort"] = port.get("port")
        spec.setdefault("sessionAffinity", "None")
        if service_type in _EXTERNAL_TYPES:
            spec.setdefault("externalTrafficPolicy", "Cluster")
        if service_type != "ExternalName":
            spec.setdefault("internalTrafficPolicy", "Cluster")
        if service_type == "LoadBalancer":
            spec.setdefault("allocateLoadBalancerNodePorts", True)
        if spec.get("externalTrafficPolicy") == "Local" and service_type != "LoadBalancer":
            spec.pop("healthCheckNodePort", None)

    def _validate(self, spec: dict[str, Any], old_spec: dict[str, Any], ports: list[dict[str, Any]],
                  updating: bool) -> list[FieldCause]:
        causes: list[FieldCause] = []
        service_type = spec["type"]
        low, high = self.node_port_range
        headless = spec.get("clusterIP") == "None"
        if not ports and service_type != "ExternalName" and not headless:
            causes.append(FieldCause("spec.ports", "Required value", "FieldValueRequired"))
        seen_names: set[str] = set()
        seen_pairs: set[tuple[Any, Any]] = set()
        seen_node_ports: set[tuple[int, str]] = set()
        for index, port in enumerate(ports):
            path = f"spec.ports[{index}]"
            number, protocol, port_name = port.get("port"), port.get("protocol"), port.get("name") or ""
            if len(ports) > 1 and not port_name:
                causes.append(FieldCause(f"{path}.name", "Required value", "FieldValueRequired"))
            if port_name and port_name in seen_names:
                causes.append(FieldCause(f"{path}.name", f'Duplicate value: "{port_name}"', "FieldValueDuplicate"))
            seen_names.add(port_name)
            if not isinstance(number, int) or isinstance(number, bool) or not 1 <= number <= 65535:
                causes.append(FieldCause(f"{path}.port", f"Invalid value: {json.dumps(number)}: must be between "
                                         "1 and 65535, inclusive"))
            if protocol not in PROTOCOLS:
                causes.append(FieldCause(f"{path}.protocol", f"Unsupported value: {json.dumps(protocol)}: "
                                         f"supported values: {_quoted(PROTOCOLS)}", "FieldValueNotSupported"))
            if (number, protocol) in seen_pairs:
                causes.append(FieldCause(path, f'Duplicate value: {{"port": {json.dumps(number)}, '
                                         f'"protocol": {json.dumps(protocol)}}}', "FieldValueDuplicate"))
            seen_pairs.add((number, protocol))
            node_port = port.get("nodePort")
            if node_port in (None, 0):
                continue
            if service_type not in _EXTERNAL_TYPES:
                causes.append(FieldCause(f"{path}.nodePort", f"Forbidden: may not be used when `type` is "
                                         f"'{service_type}'", "FieldValueForbidden"))
            elif not isinstance(node_port, int) or not low <= node_port <= high:
                causes.append(FieldCause(f"{path}.nodePort", f"Invalid value: {json.dumps(node_port)}: provided "
                                         f"port is not in the valid range. The range of valid ports is {low}-{high}"))
            elif (node_port, str(protocol)) in seen_node_ports:
                causes.append(FieldCause(f"{path}.nodePort", f"Duplicate value: {node_port}", "FieldValueDuplicate"))
            else:
                seen_node_ports.add((node_port, str(protocol)))
        causes += self._validate_policies(spec, old_spec, updating)
        return causes

    def _validate_policies(self, spec: dict[str, Any], old_spec: dict[str, Any], updating: bool) -> list[FieldCause]:
        causes: list[FieldCause] = []
        service_type = spec["type"]
        lb_class = spec.get("loadBalancerClass")
        if lb_class is not None and service_type != "LoadBalancer":
            causes.append(FieldCause("spec.loadBalancerClass", f"Invalid value: {json.dumps(lb_class)}: may only "
                                     "be used when `type` is 'LoadBalancer'"))
        if (updating and service_type == "LoadBalancer" and old_spec.get("type") == "LoadBalancer"
                and lb_class != old_spec.get("loadBalancerClass")):
            causes.append(FieldCause("spec.loadBalancerClass", f"Invalid value: {json.dumps(lb_class)}: may not "
                                     "change once set"))
        policy = spec.get("externalTrafficPolicy")
        if policy is not None:
            if service_type not in _EXTERNAL_TYPES:
                causes.append(FieldCause("spec.externalTrafficPolicy", f"Invalid value: {json.dumps(policy)}: may "
                                         "only be set for externally-accessible services"))
            elif policy not in TRAFFIC_POLICIES:
                causes.append(FieldCause("spec.externalTrafficPolicy", f"Unsupported value: {json.dumps(policy)}: "
                                         f"supported values: {_quoted(TRAFFIC_POLICIES)}",
                                         "FieldValueNotSupported"))
        return causes

    # --- allocation -------------------------------------------------------------------------------

    def _allocate_cluster_ip(self, spec: dict[str, Any], old_spec: dict[str, Any],
                             others: list[Obj]) -> list[FieldCause]:
        if spec["type"] == "ExternalName":
            for field_name in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                spec.pop(field_name, None)
            return []
        if self.dual_stack and spec.get("clusterIP") != "None":
            self._allocate_dual_stack(spec, old_spec, others)
            return []
        wanted = spec.get("clusterIP") or (spec.get("clusterIPs") or [None])[0]
        previous = old_spec.get("clusterIP")
        if previous:
            if wanted and wanted != previous:
                return [FieldCause("spec.clusterIPs[0]", f'Invalid value: "{wanted}": may not change once set')]
            wanted = previous
        elif wanted and wanted != "None":
            problem = self._check_cluster_ip(wanted, others)
            if problem:
                return [FieldCause("spec.clusterIPs", f'Invalid value: ["{wanted}"]: failed to allocate IP '
                                   f"{wanted}: {problem}")]
        elif not wanted:
            wanted = self._free_cluster_ip(others)
        spec["clusterIP"] = wanted
        spec["clusterIPs"] = [wanted]
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        return []

    def _allocate_dual_stack(self, spec: dict[str, Any], old_spec: dict[str, Any], others: list[Obj]) -> None:
        """One cluster IP per family, primary first; a ``*DualStack`` policy gets the other family too.

        Kept once allocated, as upstream; only what the dual-stack tests need (no requested cluster IPs).
        """
        policy = spec.get("ipFamilyPolicy") or "SingleStack"
        families = list(spec.get("ipFamilies") or old_spec.get("ipFamilies") or ["IPv4"])
        if policy != "SingleStack" and len(families) == 1:
            families.append("IPv6" if families[0] == "IPv4" else "IPv4")
        previous = {("IPv6" if ":" in ip else "IPv4"): ip for ip in old_spec.get("clusterIPs") or []}
        used = {ip for other in others for ip in (other.get("spec") or {}).get("clusterIPs") or []}
        addresses = []
        for family in families:
            network = self.service_cidr if family == "IPv4" else self.ipv6_service_cidr
            address = previous.get(family)
            while address is None or address in used:
                address = str(network.network_address + self._rng.randint(2, min(network.num_addresses - 2, 2**16)))
            addresses.append(address)
        spec["clusterIP"], spec["clusterIPs"] = addresses[0], addresses
        spec["ipFamilies"], spec["ipFamilyPolicy"] = families, policy

    def _check_cluster_ip(self, wanted: str, others: list[Obj]) -> str | None:
        try:
            address = ipaddress.IPv4Address(wanted)
        except ValueError:
            return "not a valid IPv4 address"
        if address not in self.service_cidr or address in (self.service_cidr.network_address,
                                                          self.service_cidr.broadcast_address):
            return f"provided IP is not in the valid range. The range of valid IPs is {self.service_cidr}"
        if wanted in {(other.get("spec") or {}).get("clusterIP") for other in others}:
            return "provided IP is already allocated"
        return None

    def _free_cluster_ip(self, others: list[Obj]) -> str:
        used = {(other.get("spec") or {}).get("clusterIP") for other in others}
        # .1 is the `kubernetes` Service's address on a real cluster; keep it free.
        first, last = 2, self.service_cidr.num_addresses - 2
        while True:
            candidate = str(self.service_cidr.network_address + self._rng.randint(first, last))
            if candidate not in used:
                return candidate

    def _allocate_node_ports(self, spec: dict[str, Any], old_spec: dict[str, Any], ports: list[dict[str, Any]],
                             others: list[Obj]) -> list[FieldCause]:
        service_type = spec["type"]
        used = set().union(*(node_ports_of(other) for other in others)) if others else set()
        causes: list[FieldCause] = []
        wants_ports = service_type == "NodePort" or (
            service_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True))
        if service_type in _EXTERNAL_TYPES:
            kept = _node_ports_by_port(old_spec)
            for port in ports:
                previous = kept.get((port.get("port"), port.get("protocol")))
                if not port.get("nodePort") and previous:
                    port["nodePort"] = previous
            for index, port in enumerate(ports):
                if port.get("nodePort") and port["nodePort"] in used:
                    causes.append(FieldCause(f"spec.ports[{index}].nodePort", f"Invalid value: {port['nodePort']}: "
                                             "provided port is already allocated"))
            if causes:
                return causes
            by_number = {port["port"]: port["nodePort"] for port in ports if port.get("nodePort")}
            for port in ports:
                if port.get("nodePort") or not wants_ports:
                    continue
                # The same port number over TCP and UDP shares one node port, as upstream allocates it.
                port["nodePort"] = by_number.get(port["port"]) or self._free_node_port(used | set(by_number.values()))
                by_number[port["port"]] = port["nodePort"]
        causes += self._allocate_health_check_port(spec, old_spec, ports, used)
        return causes

    def _allocate_health_check_port(self, spec: dict[str, Any], old_spec: dict[str, Any],
                                    ports: list[dict[str, Any]], used: set[int]) -> list[FieldCause]:
        if not (spec["type"] == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"):
            spec.pop("healthCheckNodePort", None)
            return []
        wanted = spec.get("healthCheckNodePort") or old_spec.get("healthCheckNodePort")
        taken = used | {port["nodePort"] for port in ports if port.get("nodePort")}
        if wanted:
            low, high = self.node_port_range
            if wanted in taken or not isinstance(wanted, int) or not low <= wanted <= high:
                problem = ("provided port is already allocated" if wanted in taken else
                           f"provided port is not in the valid range. The range of valid ports is {low}-{high}")
                raise errors.ApiError(500, "InternalError", "Internal error occurred: failed to allocate requested "
                                      f"HealthCheck NodePort {wanted}: {problem}")
        else:
            wanted = self._free_node_port(taken)
        spec["healthCheckNodePort"] = wanted
        return []

    def _free_node_port(self, taken: set[int]) -> int:
        low, high = self.node_port_range
        free = [port for port in range(low, high + 1) if port not in taken]
        if not free:
            raise errors.ApiError(500, "InternalError", "range is full: no node ports left to allocate")
        return self._rng.choice(free)
