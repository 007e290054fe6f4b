"""The regional backend service: scheme, protocol, health check and the cluster's instance groups.

Its scheme cannot change: a service of the other scheme is deleted (after the
forwarding rules that use it) and created anew. Everything else is patched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cloudlb.changes import Change
from cloudlb.model import SESSION_AFFINITY_CLIENT_IP
from cloudlb_gcp.ownership import OwnerMark, read_mark
from cloudlb_gcp.resources.common import Json, Kind, check_ours, converge, create, delete, relative_link


@dataclass(frozen=True)
class BackendServiceRecord:
    name: str
    mark: OwnerMark | None
    scheme: str
    protocol: str
    health_check: str
    groups: tuple[str, ...]
    session_affinity: str = "NONE"


def parse(item: Json) -> BackendServiceRecord:
    checks = item.get("healthChecks") or [""]
    return BackendServiceRecord(
        name=item["name"], mark=read_mark(item.get("description", "")),
        scheme=item.get("loadBalancingScheme", ""), protocol=item.get("protocol", ""),
        health_check=relative_link(checks[0]),
        groups=tuple(sorted(relative_link(b.get("group", "")) for b in item.get("backends") or ())),
        session_affinity=item.get("sessionAffinity", "NONE"),
    )


def body(record: BackendServiceRecord) -> Json:
    assert record.mark is not None
    return {
        "name": record.name, "description": record.mark.description, "loadBalancingScheme": record.scheme,
        "protocol": record.protocol, "healthChecks": [record.health_check], "sessionAffinity": record.session_affinity,
        "backends": [{"group": group, "balancingMode": "CONNECTION"} for group in record.groups],
    }


KIND: Kind[BackendServiceRecord] = Kind("backend-service", "regionBackendServices", "backendServices", "regions",
                                        parse, body)


def protocol_for(rule_protocols: Iterable[str]) -> str:
    """One protocol when every rule has it; UNSPECIFIED lets TCP, UDP and L3_DEFAULT rules share the service."""
    protocols = set(rule_protocols)
    if len(protocols) == 1 and protocols <= {"TCP", "UDP"}:
        return next(iter(protocols))
    return "UNSPECIFIED"


def desired(name: str, mark: OwnerMark, scheme: str, protocol: str, health_check: str,
            groups: Iterable[str], session_affinity: str = "NONE") -> BackendServiceRecord:
    return BackendServiceRecord(name, mark, scheme, protocol, health_check, tuple(sorted(groups)), session_affinity)


def session_affinity_for(service_affinity: str) -> str:
    """``spec.sessionAffinity`` as both upstream GCE implementations map it: ClientIP -> CLIENT_IP."""
    return "CLIENT_IP" if service_affinity == SESSION_AFFINITY_CLIENT_IP else "NONE"


def changes(want: BackendServiceRecord | None, have: BackendServiceRecord | None, mark: OwnerMark) -> list[Change]:
    if want is not None and have is not None and want.scheme != have.scheme:
        check_ours(KIND, have, mark)
        reason = f"scheme {have.scheme} -> {want.scheme} cannot change in place"
        return [delete(KIND, have, reason), create(KIND, want, reason)]
    return converge(KIND, want, have, mark)

