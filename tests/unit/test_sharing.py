"""Which load balancer a Service joins, and who wins when members of a shared one clash."""

from __future__ import annotations

from typing import Any

import pytest

from cloudlb import sharing
from cloudlb.model import (
    KUBE_PROXY_HEALTH_CHECK,
    LoadBalancerKey,
    LoadBalancerSpec,
    Port,
    PortKey,
    Protocol,
    ServiceRef,
)


def service(name: str, namespace: str = "default", key: str | None = None, created: str = "2026-01-01T00:00:00Z",
            ) -> dict[str, Any]:
    annotations = {sharing.SHARE_KEY_ANNOTATION: key} if key is not None else {}
    return {"metadata": {"name": name, "namespace": namespace, "annotations": annotations,
                         "creationTimestamp": created}}


def spec(name: str, *ports: tuple[int, str]) -> LoadBalancerSpec:
    return LoadBalancerSpec(service=ServiceRef("default", name), uid=name,
                            ports=tuple(Port(number, Protocol(protocol), 30000 + number) for number, protocol in ports),
                            backends=(), health_check=KUBE_PROXY_HEALTH_CHECK)


def test_a_service_without_a_key_has_its_own_load_balancer() -> None:
    assert sharing.key_for(service("web"), sharing.SharingPolicy()) == LoadBalancerKey("default", "web")


def test_services_share_by_key_within_their_namespace_only() -> None:
    policy = sharing.SharingPolicy()
    assert sharing.key_for(service("a", key="edge"), policy) == LoadBalancerKey("default", "edge", shared=True)
    assert sharing.key_for(service("b", namespace="other", key="edge"), policy) == LoadBalancerKey(
        "other", "edge", shared=True)


def test_namespaces_allowed_to_share_have_one_scope() -> None:
    policy = sharing.parse_policy("team-b,team-a; x,y")
    assert sharing.key_for(service("a", namespace="team-a", key="edge"), policy) == sharing.key_for(
        service("b", namespace="team-b", key="edge"), policy) == LoadBalancerKey("team-a+team-b", "edge", True)
    assert sharing.key_for(service("c", namespace="team-c", key="edge"), policy).namespace == "team-c"


@pytest.mark.parametrize("text", ["alone", "a,b;b,c"])
def test_a_sharing_policy_must_name_groups_of_two_or_more_distinct_namespaces(text: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        sharing.parse_policy(text)


@pytest.mark.parametrize("value", ["Edge", "-edge", "edge-", "a" * 64, "ed ge", "edge٣", ""])
def test_an_invalid_key_is_named_and_the_service_keeps_its_own_load_balancer(value: str) -> None:
    bad = service("web", key=value)
    assert sharing.key_for(bad, sharing.SharingPolicy()) == LoadBalancerKey("default", "web")
    assert sharing.share_key_problem(bad) is not None


def test_older_services_win_and_the_winner_does_not_depend_on_event_order() -> None:
    young, old = service("a", created="2026-02-01T00:00:00Z"), service("b", created="2026-01-01T00:00:00Z")
    assert sorted([young, old], key=sharing.precedence)[0] is old


def test_a_clashing_port_is_taken_only_from_the_later_member() -> None:
    first, second = spec("first", (80, "TCP"), (53, "UDP")), spec("second", (80, "TCP"), (443, "TCP"))
    assigned = sharing.assign([first, second], ["same", "same"])
    assert [m.service.name for m in assigned.members] == ["first", "second"]
    assert assigned.members[0] is first
    assert [p.key for p in assigned.members[1].ports] == [PortKey(443, Protocol.TCP)]
    assert [(r.service.name, r.reason, r.ports) for r in assigned.refusals] == [
        ("second", sharing.PORT_IN_USE, (PortKey(80, Protocol.TCP),))]
    assert "default/first" in assigned.refusals[0].message


def test_tcp_and_udp_on_one_port_are_two_ports_and_do_not_clash() -> None:
    assigned = sharing.assign([spec("a", (53, "TCP")), spec("b", (53, "UDP"))], [1, 1])
    assert len(assigned.members) == 2 and not assigned.refusals


def test_a_member_left_without_ports_is_not_a_member() -> None:
    assigned = sharing.assign([spec("a", (80, "TCP")), spec("b", (80, "TCP"))], [1, 1])
    assert [m.service.name for m in assigned.members] == ["a"]
    assert assigned.refusals[0].service.name == "b"


def test_a_member_with_other_traits_is_refused_whole() -> None:
    assigned = sharing.assign([spec("a", (80, "TCP")), spec("b", (81, "TCP")), spec("c", (82, "TCP"))],
                              ["external", "internal", "external"])
    assert [m.service.name for m in assigned.members] == ["a", "c"]
    assert [(r.service.name, r.reason, r.ports) for r in assigned.refusals] == [("b", sharing.INCOMPATIBLE, ())]
