"""Services as the real API server treats them: defaults, allocations and 422 validation."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import MERGE, SERVICES, Reply, call, create_service


def _node_ports(body: dict[str, Any]) -> list[int]:
    return [port["nodePort"] for port in body["spec"]["ports"]]


def _assert_invalid(reply: Reply, field: str) -> None:
    assert reply.status == 422, reply.body
    assert reply.body["kind"] == "Status" and reply.body["apiVersion"] == "v1"
    assert reply.body["status"] == "Failure" and reply.body["reason"] == "Invalid" and reply.body["code"] == 422
    assert field in [cause["field"] for cause in reply.body["details"]["causes"]], reply.body


def test_load_balancer_defaults_and_allocations(kube: EmulatedKubernetes) -> None:
    body = create_service(kube, "web", ports=[{"name": "http", "port": 80},
                                              {"name": "dns", "port": 53, "protocol": "UDP"}]).body
    spec = body["spec"]
    assert ipaddress.IPv4Address(spec["clusterIP"]) in ipaddress.IPv4Network("10.96.0.0/12")
    assert spec["clusterIPs"] == [spec["clusterIP"]]
    assert spec["ipFamilies"] == ["IPv4"] and spec["ipFamilyPolicy"] == "SingleStack"
    assert [port["protocol"] for port in spec["ports"]] == ["TCP", "UDP"]
    assert [port["targetPort"] for port in spec["ports"]] == [80, 53]
    assert all(30000 <= node_port <= 32767 for node_port in _node_ports(body))
    assert spec["sessionAffinity"] == "None"
    assert spec["externalTrafficPolicy"] == "Cluster"
    assert spec["internalTrafficPolicy"] == "Cluster"
    assert spec["allocateLoadBalancerNodePorts"] is True
    assert "healthCheckNodePort" not in spec


def test_cluster_ip_service_gets_no_node_ports_and_no_external_policy(kube: EmulatedKubernetes) -> None:
    spec = create_service(kube, "internal", service_type="ClusterIP").body["spec"]
    assert "nodePort" not in spec["ports"][0]
    assert "externalTrafficPolicy" not in spec
    assert spec["clusterIP"]


def test_node_ports_never_collide(kube: EmulatedKubernetes) -> None:
    allocated: list[int] = []
    for index in range(40):
        reply = create_service(kube, f"svc-{index}", ports=[{"name": "a", "port": 80}, {"name": "b", "port": 443}])
        allocated += _node_ports(reply.body)
    assert len(allocated) == len(set(allocated)) == 80
    cluster_ips = {service["spec"]["clusterIP"] for service in kube.list("v1", "services")}
    assert len(cluster_ips) == 41 and "10.96.0.1" in cluster_ips  # the `kubernetes` Service holds the first


def test_user_node_port_is_honoured_and_a_colliding_one_is_invalid(kube: EmulatedKubernetes) -> None:
    first = create_service(kube, "first", ports=[{"port": 80, "nodePort": 31080}])
    assert _node_ports(first.body) == [31080]
    clash = create_service(kube, "second", ports=[{"port": 80, "nodePort": 31080}])
    _assert_invalid(clash, "spec.ports[0].nodePort")
    assert "provided port is already allocated" in clash.body["message"]
    assert kube.get("v1", "services", "default", "second") is None


def test_node_ports_are_kept_on_update_for_ports_that_still_exist(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web", ports=[{"name": "http", "port": 80}, {"name": "https", "port": 443}]).body
    http_node_port, https_node_port = _node_ports(created)
    # A client that sends the ports without nodePorts (as `kubectl apply` of a manifest does).
    updated = call(kube, "PATCH", f"{SERVICES}/web",
                   {"spec": {"ports": [{"name": "http", "port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]}},
                   MERGE).body
    assert updated["spec"]["ports"][0]["nodePort"] == http_node_port
    assert updated["spec"]["ports"][1]["nodePort"] != http_node_port
    assert updated["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    # The removed https port's node port is free again.
    assert create_service(kube, "other", ports=[{"port": 80, "nodePort": https_node_port}]).status == 201


def test_put_without_node_ports_keeps_them(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    replacement = dict(created, spec={"type": "LoadBalancer", "ports": [{"port": 80}]})
    replaced = call(kube, "PUT", f"{SERVICES}/web", replacement)
    assert replaced.status == 200, replaced.body
    assert _node_ports(replaced.body) == _node_ports(created)
    assert replaced.body["spec"]["clusterIP"] == created["spec"]["clusterIP"]


def test_node_ports_are_released_on_delete(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web", ports=[{"port": 80, "nodePort": 30500}])
    assert created.status == 201
    _assert_invalid(create_service(kube, "other", ports=[{"port": 80, "nodePort": 30500}]), "spec.ports[0].nodePort")
    call(kube, "DELETE", f"{SERVICES}/web")
    reused = create_service(kube, "other", ports=[{"port": 80, "nodePort": 30500}])
    assert reused.status == 201
    assert _node_ports(reused.body) == [30500]


def test_node_ports_are_held_until_finalizers_let_the_service_go(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web", ports=[{"port": 80, "nodePort": 30501}])
    call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"finalizers": ["x/y"]}}, MERGE)
    call(kube, "DELETE", f"{SERVICES}/web")
    _assert_invalid(create_service(kube, "other", ports=[{"port": 80, "nodePort": 30501}]), "spec.ports[0].nodePort")
    call(kube, "PATCH", f"{SERVICES}/web", {"metadata": {"finalizers": []}}, MERGE)
    assert create_service(kube, "other", ports=[{"port": 80, "nodePort": 30501}]).status == 201


def test_health_check_node_port_for_local_traffic_policy(kube: EmulatedKubernetes) -> None:
    spec = create_service(kube, "local", externalTrafficPolicy="Local").body["spec"]
    assert 30000 <= spec["healthCheckNodePort"] <= 32767
    assert spec["healthCheckNodePort"] not in _node_ports({"spec": spec})
    back_to_cluster = call(kube, "PATCH", f"{SERVICES}/local", {"spec": {"externalTrafficPolicy": "Cluster"}},
                           MERGE).body["spec"]
    assert "healthCheckNodePort" not in back_to_cluster


def test_type_change_to_cluster_ip_releases_node_ports(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web", externalTrafficPolicy="Local").body["spec"]
    held = {created["ports"][0]["nodePort"], created["healthCheckNodePort"]}
    changed = call(kube, "PATCH", f"{SERVICES}/web", {"spec": {"type": "ClusterIP"}}, MERGE)
    assert changed.status == 200, changed.body
    spec = changed.body["spec"]
    assert "nodePort" not in spec["ports"][0]
    assert "healthCheckNodePort" not in spec and "externalTrafficPolicy" not in spec
    assert "allocateLoadBalancerNodePorts" not in spec
    for index, node_port in enumerate(sorted(held)):
        reply = create_service(kube, f"reuse-{index}", ports=[{"port": 80, "nodePort": node_port}])
        assert reply.status == 201, reply.body


def test_load_balancer_class_cannot_change(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web", loadBalancerClass="cloudlb.io/aws")
    reply = call(kube, "PATCH", f"{SERVICES}/web", {"spec": {"loadBalancerClass": "example.com/other"}}, MERGE)
    _assert_invalid(reply, "spec.loadBalancerClass")
    assert "may not change once set" in reply.body["message"]


@pytest.mark.parametrize(("ports", "field"), [
    ([{"name": "a", "port": 80}, {"name": "b", "port": 80}], "spec.ports[1]"),
    ([{"name": "a", "port": 80}, {"name": "a", "port": 81}], "spec.ports[1].name"),
    ([{"port": 0}], "spec.ports[0].port"),
    ([{"port": 65536}], "spec.ports[0].port"),
    ([{"port": 80, "nodePort": 80}], "spec.ports[0].nodePort"),
    ([{"port": 80, "protocol": "ICMP"}], "spec.ports[0].protocol"),
    ([{"port": 80}, {"port": 81}], "spec.ports[1].name"),
])
def test_invalid_ports_are_rejected_with_causes(kube: EmulatedKubernetes, ports: list[dict[str, Any]],
                                                field: str) -> None:
    _assert_invalid(create_service(kube, "web", ports=ports), field)


def test_same_port_over_tcp_and_udp_is_valid_and_shares_one_node_port(kube: EmulatedKubernetes) -> None:
    reply = create_service(kube, "dns", ports=[{"name": "tcp", "port": 53, "protocol": "TCP"},
                                               {"name": "udp", "port": 53, "protocol": "UDP"}])
    assert reply.status == 201
    assert len(set(_node_ports(reply.body))) == 1


def test_invalid_type_is_rejected(kube: EmulatedKubernetes) -> None:
    reply = create_service(kube, "web", service_type="Balancer")
    _assert_invalid(reply, "spec.type")
    assert reply.body["details"]["causes"][0]["reason"] == "FieldValueNotSupported"


def test_invalid_name_is_rejected(kube: EmulatedKubernetes) -> None:
    _assert_invalid(create_service(kube, "9lives"), "metadata.name")


def test_cluster_ip_is_immutable_and_a_given_one_is_checked(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web", service_type="ClusterIP", clusterIP="10.96.0.50")
    assert created.body["spec"]["clusterIP"] == "10.96.0.50"
    _assert_invalid(create_service(kube, "other", service_type="ClusterIP", clusterIP="10.96.0.50"), "spec.clusterIPs")
    _assert_invalid(create_service(kube, "outside", service_type="ClusterIP", clusterIP="192.0.2.1"),
                    "spec.clusterIPs")
    moved = call(kube, "PATCH", f"{SERVICES}/web", {"spec": {"clusterIP": "10.96.0.51"}}, MERGE)
    _assert_invalid(moved, "spec.clusterIPs[0]")


def test_failed_update_keeps_the_previous_allocation(kube: EmulatedKubernetes) -> None:
    created = create_service(kube, "web").body
    bad = call(kube, "PATCH", f"{SERVICES}/web", {"spec": {"ports": [{"port": 80}, {"port": 80}]}}, MERGE)
    assert bad.status == 422
    assert kube.get("v1", "services", "default", "web") == created
