"""Node eligibility, as the service controller decides it."""

from __future__ import annotations

from typing import Any

from cloudlb.model import Backend
from cloudlb.nodes import EXCLUDE_LABEL, eligible_backends, is_eligible, slim


def node(name: str = "n1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "metadata": {"name": name, "labels": {"topology.kubernetes.io/zone": "zone-a"}},
        "spec": {"providerID": f"gce://p/zone-a/{name}"},
        "status": {"addresses": [{"type": "Hostname", "address": name},
                                 {"type": "InternalIP", "address": "10.0.0.9"}],
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }
    for key, value in extra.items():
        body[key].update(value)
    return body


def test_plain_node_is_a_backend_with_zone_and_address() -> None:
    assert eligible_backends([node()]) == (Backend("n1", "gce://p/zone-a/n1", "10.0.0.9", "zone-a"),)


def test_excluded_label_deleting_autoscaler_taint_and_no_provider_id_are_not_eligible() -> None:
    assert not is_eligible(node(metadata={"labels": {EXCLUDE_LABEL: ""}}))
    assert not is_eligible(node(metadata={"deletionTimestamp": "2026-01-01T00:00:00Z"}))
    assert not is_eligible(node(spec={"taints": [{"key": "ToBeDeletedByClusterAutoscaler", "effect": "NoSchedule"}]}))
    assert not is_eligible(node(spec={"providerID": ""}))


def test_not_ready_and_other_taints_stay_eligible() -> None:
    assert is_eligible(node(status={"conditions": [{"type": "Ready", "status": "False"}]}))
    assert is_eligible(node(spec={"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]}))


def test_backends_are_sorted_so_equal_sets_compare_equal() -> None:
    assert eligible_backends([node("b"), node("a")]) == eligible_backends([node("a"), node("b")])
    assert [b.node_name for b in eligible_backends([node("b"), node("a")])] == ["a", "b"]


def test_slim_node_keeps_what_eligibility_reads_and_drops_the_rest() -> None:
    full = node(metadata={"labels": {EXCLUDE_LABEL: ""}, "annotations": {"big": "x" * 1000}},
                spec={"taints": [{"key": "ToBeDeletedByClusterAutoscaler"}], "podCIDR": "10.1.0.0/24"},
                status={"images": [{"names": ["x"] * 50}]})
    kept = slim(full)
    assert "annotations" not in kept["metadata"] and "images" not in kept["status"] and "podCIDR" not in kept["spec"]
    assert is_eligible(kept) == is_eligible(full) is False
    plain = node()
    assert eligible_backends([slim(plain)]) == eligible_backends([plain])
