"""The Service's ``status`` as cloudlb writes it: ingress, per-port errors and conditions. Pure."""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any

from cloudlb.model import LoadBalancerStatus, PortKey
from cloudlb.problems import Problem

PORTS_ERROR_CONDITION = "LoadBalancerPortsError"
# Whether the last sync of the load balancer succeeded; False carries the reason for the user.
SYNCED_CONDITION = "cloudlb.io/LoadBalancerSynced"
# Whether every field and annotation of the Service is honoured; False lists what is not (e.g. an
# annotation the provider does not support), which the Service is served without.
HONOURED_CONDITION = "cloudlb.io/ConfigurationHonoured"
# Synced's reason while the Service is served by its new load balancer and the one it replaced is deleted.
REPLACING = "ReplacingLoadBalancer"
OUR_CONDITIONS = (PORTS_ERROR_CONDITION, SYNCED_CONDITION, HONOURED_CONDITION)


def port_errors(problems: Sequence[Problem], observed: LoadBalancerStatus | None) -> dict[PortKey, str]:
    errors = {problem.port: problem.status_error for problem in problems if problem.port is not None}
    if observed is not None:
        for key, reason in observed.port_errors.items():
            errors.setdefault(key, reason if "/" in reason else f"cloudlb.io/{reason}")
    return errors


def ingress_status(observed: LoadBalancerStatus | None, errors: Mapping[PortKey, str]) -> list[dict[str, Any]]:
    """``status.loadBalancer.ingress``: each address carries the ports it could not serve."""
    entries: list[dict[str, Any]] = []
    for ingress in observed.ingress if observed is not None else ():
        entry: dict[str, Any] = {}
        if ingress.ip:
            entry["ip"] = ingress.ip
            if ingress.ip_mode:
                entry["ipMode"] = ingress.ip_mode
        if ingress.hostname:
            entry["hostname"] = ingress.hostname
        if errors:
            entry["ports"] = [
                {"port": key.port, "protocol": str(key.protocol), "error": reason}
                for key, reason in sorted(errors.items())
            ]
        entries.append(entry)
    return entries


def condition(type_: str, status: bool, reason: str, message: str, generation: int | None,
              previous: Sequence[Mapping[str, Any]], now: datetime.datetime) -> dict[str, Any]:
    """A metav1.Condition that keeps its lastTransitionTime while its status does not change."""
    value = "True" if status else "False"
    before = next((c for c in previous if c.get("type") == type_), None)
    if before is not None and before.get("status") == value and before.get("lastTransitionTime"):
        transition = str(before["lastTransitionTime"])
    else:
        transition = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    result: dict[str, Any] = {"type": type_, "status": value, "reason": reason, "message": message[:32768],
                              "lastTransitionTime": transition}
    if generation is not None:
        result["observedGeneration"] = generation
    return result


def desired_status(
    current: Mapping[str, Any],
    *,
    generation: int | None,
    observed: LoadBalancerStatus | None,
    keep_ingress: bool,
    problems: Sequence[Problem],
    sync_error: tuple[str, str] | None,
    now: datetime.datetime,
) -> dict[str, Any]:
    """The whole status cloudlb wants, from the current one, with the conditions of others kept.

    ``keep_ingress`` keeps the current addresses when the load balancer could not
    be synced: a failed update must not make a working address disappear.
    """
    previous = list(current.get("conditions") or [])
    errors = port_errors(problems, observed)
    if observed is not None:
        load_balancer: dict[str, Any] = {}
        ingress = ingress_status(observed, errors)
        if ingress:
            load_balancer["ingress"] = ingress
    elif keep_ingress:
        load_balancer = dict(current.get("loadBalancer") or {})
    else:
        load_balancer = {}

    conditions = [c for c in previous if c.get("type") not in OUR_CONDITIONS]
    if errors:
        listed = ", ".join(f"{key}: {reason}" for key, reason in sorted(errors.items()))
        conditions.append(condition(PORTS_ERROR_CONDITION, True, "PortsNotServed", listed,
                                    generation, previous, now))
    else:
        conditions.append(condition(PORTS_ERROR_CONDITION, False, "AllPortsServed", "every port is served",
                                    generation, previous, now))
    ignored = [problem for problem in problems if problem.port is None and not problem.fatal]
    if ignored:
        conditions.append(condition(HONOURED_CONDITION, False, ignored[0].reason,
                                    "; ".join(str(problem) for problem in ignored), generation, previous, now))
    else:
        conditions.append(condition(HONOURED_CONDITION, True, "Honoured",
                                    "every field and annotation is honoured", generation, previous, now))
    if sync_error is None:
        conditions.append(condition(SYNCED_CONDITION, True, "Synced", "the load balancer matches the Service",
                                    generation, previous, now))
    else:
        reason, message = sync_error
        conditions.append(condition(SYNCED_CONDITION, False, reason, message, generation, previous, now))
    return {"loadBalancer": load_balancer, "conditions": conditions}


def cleared_status(current: Mapping[str, Any]) -> dict[str, Any]:
    """The status after cleanup: no addresses and none of our conditions."""
    conditions = [c for c in current.get("conditions") or [] if c.get("type") not in OUR_CONDITIONS]
    return {"loadBalancer": {}, "conditions": conditions}


def status_differs(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    def norm(status: Mapping[str, Any]) -> tuple[Any, Any]:
        return (status.get("loadBalancer") or {}, sorted((status.get("conditions") or []),
                                                         key=lambda c: str(c.get("type"))))
    return norm(current) != norm(wanted)
