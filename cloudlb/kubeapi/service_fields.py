"""The real API server's checks of the Service fields cloudlb reads, with its exact messages.

Follows upstream ``ValidateService`` / ``ValidateServiceClusterIPsRelatedFields``
(pkg/apis/core/validation), the service IP allocator's family checks
(pkg/registry/core/service/storage/alloc.go) and the warnings of
pkg/api/service/warnings.go. ``loadBalancerIP`` is not validated upstream: a bad
one is stored with a Warning (the controller is the one that refuses it).
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any

from cloudlb.kubeapi import names
from cloudlb.kubeapi.errors import FieldCause

SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
_CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_IPV4_OCTETS = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,3}){3}$")


def _invalid(path: str, value: Any, message: str) -> FieldCause:
    return FieldCause(path, f"Invalid value: {json.dumps(value)}: {message}")


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's ParseIPSloppy: IPv4 octets may carry leading zeros (read as decimal)."""
    if _IPV4_OCTETS.match(text):
        octets = [int(part, 10) for part in text.split(".")]
        return ipaddress.IPv4Address(".".join(map(str, octets))) if all(o <= 255 for o in octets) else None
    try:
        return ipaddress.IPv6Address(text) if ":" in text else None
    except ValueError:
        return None


def _is_cidr(text: str) -> bool:
    address, slash, bits = text.partition("/")
    if not slash or not bits.isascii() or not bits.isdigit() or _parse_ip(address) is None:
        return False
    return int(bits) <= (32 if "." in address and ":" not in address else 128)


def source_ranges(spec: dict[str, Any], annotations: dict[str, Any]) -> list[FieldCause]:
    """``spec.LoadBalancerSourceRanges[i]`` (upstream's capitalised path) or the annotation, each a CIDR."""
    causes: list[FieldCause] = []
    ranges = spec.get("loadBalancerSourceRanges") or []
    if ranges:
        path = "spec.LoadBalancerSourceRanges"
        if spec.get("type") != "LoadBalancer":
            causes.append(FieldCause(path, "Forbidden: may only be used when `type` is 'LoadBalancer'",
                                     "FieldValueForbidden"))
        for index, raw in enumerate(ranges):
            value = str(raw).strip()  # upstream tolerates space padding (a legacy of the annotation)
            if not _is_cidr(value):
                causes.append(_invalid(f"{path}[{index}]", value, _CIDR_MESSAGE))
    elif SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{SOURCE_RANGES_ANNOTATION}]"
        if spec.get("type") != "LoadBalancer":
            causes.append(FieldCause(path, "Forbidden: may only be used when `type` is 'LoadBalancer'",
                                     "FieldValueForbidden"))
        text = str(annotations[SOURCE_RANGES_ANNOTATION]).strip()
        for value in (part.strip() for part in text.split(",")) if text else ():
            if not _is_cidr(value):
                causes.append(_invalid(path, value, _CIDR_MESSAGE))
    return causes


def external_ips(spec: dict[str, Any]) -> list[FieldCause]:
    causes: list[FieldCause] = []
    for index, value in enumerate(spec.get("externalIPs") or []):
        path = f"spec.externalIPs[{index}]"
        address = _parse_ip(str(value))
        if address is None:
            causes.append(_invalid(path, value, _IP_MESSAGE))
            continue
        if address.is_unspecified:
            causes.append(_invalid(path, value, f"may not be unspecified ({value})"))
        if address.is_loopback:
            causes.append(_invalid(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
        if address.is_link_local and not address.is_multicast:
            causes.append(_invalid(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
        if address in ipaddress.ip_network("224.0.0.0/24") or address in ipaddress.ip_network("ff02::/16"):
            causes.append(_invalid(path, value, "may not be in the link-local multicast range (224.0.0.0/24, "
                                   "ff02::/10)"))
    return causes


def ip_families(spec: dict[str, Any], dual_stack: bool) -> list[FieldCause]:
    """Supported, distinct families; a policy that fits them; dual-stack only where the cluster has it."""
    if spec.get("type") == "ExternalName":
        return [FieldCause(f"spec.{name}", "Forbidden: may not be set for ExternalName services",
                           "FieldValueForbidden") for name in ("ipFamilies", "ipFamilyPolicy") if spec.get(name)]
    causes: list[FieldCause] = []
    families = spec.get("ipFamilies") or []
    seen: set[str] = set()
    for index, family in enumerate(families):
        if family not in IP_FAMILIES:
            causes.append(FieldCause(f"spec.ipFamilies[{index}]", f"Unsupported value: {json.dumps(family)}: "
                                     'supported values: "IPv4", "IPv6"', "FieldValueNotSupported"))
        if family in seen:
            causes.append(FieldCause(f"spec.ipFamilies[{index}]", f"Duplicate value: {json.dumps(family)}",
                                     "FieldValueDuplicate"))
        seen.add(family)
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and policy not in IP_FAMILY_POLICIES:
        causes.append(FieldCause("spec.ipFamilyPolicy", f"Unsupported value: {json.dumps(policy)}: supported "
                                 'values: "PreferDualStack", "RequireDualStack", "SingleStack"',
                                 "FieldValueNotSupported"))
    if causes:
        return causes
    if policy in (None, "SingleStack") and len(families) == 2:
        causes.append(_invalid("spec.ipFamilyPolicy", policy or "SingleStack", "must be 'RequireDualStack' or "
                               "'PreferDualStack' when multiple IP families are specified"))
    if causes:
        return causes
    if policy == "RequireDualStack" and not dual_stack:
        causes.append(_invalid("spec.ipFamilyPolicy", policy, "this cluster is not configured for dual-stack "
                               "services"))
    for index, family in enumerate(families):
        if family != "IPv4" and not dual_stack:
            causes.append(_invalid(f"spec.ipFamilies[{index}]", family, "not configured on this cluster"))
    return causes


def port_names(ports: list[dict[str, Any]]) -> list[FieldCause]:
    """Each name a DNS-1123 label (the required/duplicate rules live with the other port checks)."""
    causes: list[FieldCause] = []
    for index, port in enumerate(ports):
        name = port.get("name") or ""
        if not name:
            continue
        path = f"spec.ports[{index}].name"
        causes += [_invalid(path, name, problem) for problem in names.dns1123_label(name)]
    return causes


def health_check_node_port(spec: dict[str, Any], old_spec: dict[str, Any]) -> list[FieldCause]:
    """Only with type LoadBalancer and policy Local; a valid port; immutable while it is needed."""
    def needs(s: dict[str, Any]) -> bool:
        return s.get("type") == "LoadBalancer" and s.get("externalTrafficPolicy") == "Local"

    port = spec.get("healthCheckNodePort")
    if not needs(spec):
        if port not in (None, 0):
            return [_invalid("spec.healthCheckNodePort", port, "may only be set when `type` is 'LoadBalancer' and "
                             "`externalTrafficPolicy` is 'Local'")]
        return []
    if port not in (None, 0) and (not isinstance(port, int) or not 1 <= port <= 65535):
        return [_invalid("spec.healthCheckNodePort", port, "must be between 1 and 65535, inclusive")]
    if needs(old_spec) and port not in (None, 0) and port != old_spec.get("healthCheckNodePort"):
        return [FieldCause("spec.healthCheckNodePort", "Forbidden: field is immutable", "FieldValueForbidden")]
    return []


def warnings(spec: dict[str, Any]) -> list[str]:
    """pkg/api/service/warnings.go: a loadBalancerIP Go's netip cannot parse is accepted with a warning."""
    value = spec.get("loadBalancerIP")
    if not value:
        return []
    problem = netip_parse_error(str(value))
    if problem is None:
        return []
    return [f"spec.loadBalancerIP: IP address was accepted, but will be invalid in a future Kubernetes release: "
            f"{problem}"]


def netip_parse_error(text: str) -> str | None:
    """The error text of Go's ``netip.ParseAddr`` for the common IPv4 mistakes, None if it parses."""
    quoted = json.dumps(text)
    if "." in text and ":" not in text:
        fields = text.split(".")
        for field_text in fields:
            if field_text == "":
                return f"ParseAddr({quoted}): IPv4 field must have at least one digit"
            if not field_text.isascii() or not field_text.isdigit():
                return f"ParseAddr({quoted}): unexpected character"
            if len(field_text) > 1 and field_text.startswith("0"):
                return f"ParseAddr({quoted}): IPv4 field has octet with leading zero"
            if int(field_text) > 255:
                return f"ParseAddr({quoted}): IPv4 field has value >255"
        if len(fields) != 4:
            return f"ParseAddr({quoted}): IPv4 address too short" if len(fields) < 4 else \
                f"ParseAddr({quoted}): IPv4 address too long"
        return None
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return f"ParseAddr({quoted}): unable to parse IP"
    return None
