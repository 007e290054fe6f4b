"""A dual-stack emulated cluster allocates a cluster IP per family, as kube-apiserver with two service CIDRs."""

from __future__ import annotations

import ipaddress

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import service_manifest
from tests.kubeapi.client import call


def families(addresses: list[str]) -> list[int]:
    return [ipaddress.ip_address(address).version for address in addresses]


def test_a_dual_stack_cluster_gives_each_family_its_cluster_ip_primary_first() -> None:
    with EmulatedKubernetes(dual_stack=True) as kube:
        six_first = service_manifest("six-first")
        six_first["spec"].update(ipFamilies=["IPv6", "IPv4"], ipFamilyPolicy="RequireDualStack")
        spec = kube.create(six_first)["spec"]
        assert families(spec["clusterIPs"]) == [6, 4] and spec["clusterIP"] == spec["clusterIPs"][0]
        prefer = service_manifest("prefer")
        prefer["spec"].update(ipFamilyPolicy="PreferDualStack")
        spec = kube.create(prefer)["spec"]
        assert spec["ipFamilies"] == ["IPv4", "IPv6"] and families(spec["clusterIPs"]) == [4, 6]
        single = kube.create(service_manifest("single"))["spec"]
        assert single["ipFamilies"] == ["IPv4"] and families(single["clusterIPs"]) == [4]
        # Kept across updates.
        patched = kube.patch("v1", "services", "default", "prefer", {"metadata": {"labels": {"a": "b"}}})
        assert patched["spec"]["clusterIPs"] == spec["clusterIPs"]


@pytest.mark.parametrize(("dual_stack", "status"), [(False, 422), (True, 201)])
def test_ipv6_over_http_only_where_the_cluster_is_dual_stack(dual_stack: bool, status: int) -> None:
    with EmulatedKubernetes(dual_stack=dual_stack) as kube:
        v6 = service_manifest("v6")
        v6["spec"].update(ipFamilies=["IPv6"])
        reply = call(kube, "POST", "/api/v1/namespaces/default/services", v6)
        assert reply.status == status
        if not dual_stack:
            assert "not configured on this cluster" in reply.body["message"]
