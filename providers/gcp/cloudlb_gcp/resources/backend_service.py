"""The regional backend service: scheme, protocol, health check and the cluster's instance groups."""

from __future__ import annotations

from google.cloud import compute_v1

from cloudlb_gcp.compute import READ_RETRY, REQUEST_TIMEOUT, Compute
from cloudlb_gcp.instances import relative_link
from cloudlb_gcp.ownership import OwnerMark, is_owned, require_owned
from cloudlb_gcp.resources.calls import delete, read, write


def protocol_for(rule_protocols: set[str]) -> str:
    """One protocol when every rule has it; UNSPECIFIED lets TCP, UDP and L3_DEFAULT rules share the service."""
    if len(rule_protocols) == 1 and rule_protocols <= {"TCP", "UDP"}:
        return next(iter(rule_protocols))
    return "UNSPECIFIED"


def desired(name: str, mark: OwnerMark, scheme: str, protocol: str, health_check: str,
            groups: list[str]) -> compute_v1.BackendService:
    return compute_v1.BackendService(
        name=name, description=mark.description, load_balancing_scheme=scheme, protocol=protocol,
        health_checks=[health_check], session_affinity="NONE",
        backends=[compute_v1.Backend(group=g, balancing_mode="CONNECTION") for g in sorted(groups)],
    )


def _differs(want: compute_v1.BackendService, have: compute_v1.BackendService) -> bool:
    return (
        want.protocol != have.protocol
        or [relative_link(h) for h in want.health_checks] != [relative_link(h) for h in have.health_checks]
        or sorted(relative_link(b.group) for b in want.backends)
        != sorted(relative_link(b.group) for b in have.backends)
    )


def get(compute: Compute, name: str) -> compute_v1.BackendService | None:
    return read(f"reading backend service {name}", lambda: compute.backend_services.get(
        backend_service=name, retry=READ_RETRY, timeout=REQUEST_TIMEOUT, **compute.in_region))


def ensure(compute: Compute, want: compute_v1.BackendService, mark: OwnerMark,
           have: compute_v1.BackendService | None) -> None:
    """Converge to ``want``; a scheme change needs a new service (callers remove its rules first)."""
    name = want.name
    where = compute.in_region
    if have is not None:
        require_owned(mark, f"backend service {name}", have.description)
        if have.load_balancing_scheme != want.load_balancing_scheme:
            remove(compute, name, mark)
            have = None
    if have is None:
        write(compute, f"creating backend service {name}", lambda: compute.backend_services.insert_unary(
            backend_service_resource=want, timeout=REQUEST_TIMEOUT, **where))
    elif _differs(want, have):
        write(compute, f"updating backend service {name}", lambda: compute.backend_services.patch_unary(
            backend_service=name, backend_service_resource=want, timeout=REQUEST_TIMEOUT, **where))


def remove(compute: Compute, name: str, mark: OwnerMark) -> list[str]:
    """Delete our backend service; returns the instance groups it used, so that unused ones can go too."""
    have = get(compute, name)
    if have is None or not is_owned(mark, have.description):
        return []
    delete(compute, f"deleting backend service {name}", lambda: compute.backend_services.delete_unary(
        backend_service=name, timeout=REQUEST_TIMEOUT, **compute.in_region))
    return [b.group for b in have.backends]
