"""Composing the Service status: ingress, per-port errors, conditions, write-only-on-change."""

from __future__ import annotations

import datetime

from cloudlb.model import Ingress, LoadBalancerStatus, PortKey, Protocol
from cloudlb.problems import Problem
from cloudlb.status import PORTS_ERROR_CONDITION, SYNCED_CONDITION, cleared_status, desired_status, status_differs

NOW = datetime.datetime(2026, 11, 28, 12, 0, tzinfo=datetime.UTC)
LATER = NOW + datetime.timedelta(hours=1)
SCTP = Problem("spec.ports[9000/SCTP]", "ProtocolNotSupported", "no SCTP", port=PortKey(9000, Protocol.SCTP))


def test_ip_with_vip_mode_and_port_errors() -> None:
    observed = LoadBalancerStatus(ingress=(Ingress(ip="203.0.113.5", ip_mode="VIP"),))
    status = desired_status({}, generation=3, observed=observed, keep_ingress=False, problems=[SCTP],
                            sync_error=None, now=NOW)
    assert status["loadBalancer"] == {"ingress": [{
        "ip": "203.0.113.5", "ipMode": "VIP",
        "ports": [{"port": 9000, "protocol": "SCTP", "error": "cloudlb.io/ProtocolNotSupported"}]}]}
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions[PORTS_ERROR_CONDITION]["status"] == "True"
    assert "9000/SCTP" in conditions[PORTS_ERROR_CONDITION]["message"]
    assert conditions[PORTS_ERROR_CONDITION]["observedGeneration"] == 3
    assert conditions[SYNCED_CONDITION]["status"] == "True"


def test_hostname_and_provider_reported_port_errors() -> None:
    observed = LoadBalancerStatus(ingress=(Ingress(hostname="lb.example.com"),),
                                  port_errors={PortKey(53, Protocol.UDP): "ListenerRejected"})
    status = desired_status({}, generation=1, observed=observed, keep_ingress=False, problems=[],
                            sync_error=None, now=NOW)
    assert status["loadBalancer"]["ingress"][0]["hostname"] == "lb.example.com"
    assert status["loadBalancer"]["ingress"][0]["ports"][0]["error"] == "cloudlb.io/ListenerRejected"


def test_transition_time_kept_while_status_unchanged_and_other_conditions_kept() -> None:
    observed = LoadBalancerStatus(ingress=(Ingress(ip="203.0.113.5"),))
    foreign = {"type": "example.com/Other", "status": "True", "reason": "X", "message": "",
               "lastTransitionTime": "2020-01-01T00:00:00Z"}
    first = desired_status({"conditions": [foreign]}, generation=1, observed=observed, keep_ingress=False,
                           problems=[], sync_error=None, now=NOW)
    second = desired_status(first, generation=1, observed=observed, keep_ingress=False, problems=[],
                            sync_error=None, now=LATER)
    assert foreign in second["conditions"]
    assert not status_differs(first, second)
    failed = desired_status(second, generation=1, observed=None, keep_ingress=True, problems=[],
                            sync_error=("RetryLater", "throttled"), now=LATER)
    synced = {c["type"]: c for c in failed["conditions"]}[SYNCED_CONDITION]
    assert synced["status"] == "False" and synced["lastTransitionTime"] == "2026-11-28T13:00:00Z"
    assert failed["loadBalancer"] == first["loadBalancer"], "a failed sync keeps the working address"
    assert status_differs(second, failed)


def test_cleared_status_drops_addresses_and_our_conditions_only() -> None:
    current = {"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]},
               "conditions": [{"type": SYNCED_CONDITION, "status": "True"}, {"type": "Other", "status": "True"}]}
    assert cleared_status(current) == {"loadBalancer": {}, "conditions": [{"type": "Other", "status": "True"}]}
