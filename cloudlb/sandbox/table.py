"""The sandbox's live table: one row per load-balancer Service, as a user would want to watch it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from cloudlb.reconciler import RETRYING
from cloudlb.status import PORTS_ERROR_CONDITION, SYNCED_CONDITION

HEADERS = ("SERVICE", "PORTS", "EXTERNAL ADDRESS", "STATE", "PROBLEMS")


def _conditions(service: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("type")): c for c in (service.get("status") or {}).get("conditions") or []}


def state_of(service: Mapping[str, Any]) -> str:
    """``Ready``, ``Rejected`` (bad input, waits for a change), ``Retrying`` or ``Pending``."""
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress")
    synced = _conditions(service).get(SYNCED_CONDITION)
    if synced is None:
        return "Pending"
    if synced.get("status") == "True":
        return "Ready" if ingress else "Pending"
    return "Retrying" if synced.get("reason") == RETRYING else "Rejected"


def is_converged(service: Mapping[str, Any]) -> bool:
    """Status written (an address) or the Service's problem recorded (a rejection the user must fix)."""
    return state_of(service) in ("Ready", "Rejected")


def row(service: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    metadata = service.get("metadata") or {}
    spec_ports = (service.get("spec") or {}).get("ports") or []
    ports = ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in spec_ports)
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    address = ",".join(str(i.get("ip") or i.get("hostname")) for i in ingress) or "<pending>"
    conditions = _conditions(service)
    problems = []
    ports_error = conditions.get(PORTS_ERROR_CONDITION)
    if ports_error and ports_error.get("status") == "True":
        problems.append(str(ports_error.get("message")))
    synced = conditions.get(SYNCED_CONDITION)
    if synced and synced.get("status") == "False":
        problems.append(f"{synced.get('reason')}: {synced.get('message')}")
    return (f"{metadata.get('namespace')}/{metadata.get('name')}", ports, address, state_of(service),
            "; ".join(problems) or "-")


def render(services: Iterable[Mapping[str, Any]], max_problem: int = 70) -> str:
    rows = [row(s) for s in sorted(services, key=lambda s: (s["metadata"].get("namespace"), s["metadata"]["name"]))]
    rows = [(*r[:4], r[4] if len(r[4]) <= max_problem else r[4][: max_problem - 1] + "…") for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(HEADERS)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)).rstrip() for line in (HEADERS, *rows)]
    return "\n".join(lines)
