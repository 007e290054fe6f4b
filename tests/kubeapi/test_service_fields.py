"""The API server's checks of the Service fields cloudlb reads, with upstream's exact messages."""

from __future__ import annotations

from typing import Any

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import MERGE, SERVICES, call, create_service

SOURCE_RANGES = "service.beta.kubernetes.io/load-balancer-source-ranges"


def _message(kube: EmulatedKubernetes, **spec: Any) -> str:
    reply = create_service(kube, "bad", **spec)
    assert reply.status == 422, reply.body
    assert reply.body["reason"] == "Invalid"
    message: str = reply.body["message"]
    return message


@pytest.mark.parametrize(("spec", "expected"), [
    ({"loadBalancerSourceRanges": ["10.0.0.0/8", "10.0.0.0/33"]},
     'spec.LoadBalancerSourceRanges[1]: Invalid value: "10.0.0.0/33": must be a valid CIDR value, '
     "(e.g. 10.9.8.0/24 or 2001:db8::/64)"),
    ({"loadBalancerSourceRanges": ["10.0.0.0/8"], "service_type": "ClusterIP"},
     "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"),
    ({"externalIPs": ["not-an-ip"]},
     'spec.externalIPs[0]: Invalid value: "not-an-ip": must be a valid IP address, (e.g. 10.9.8.7 or '
     "2001:db8::ffff)"),
    ({"externalIPs": ["127.0.0.1"]},
     'spec.externalIPs[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)'),
    ({"externalIPs": ["0.0.0.0"]}, 'spec.externalIPs[0]: Invalid value: "0.0.0.0": may not be unspecified (0.0.0.0)'),
    ({"ipFamilies": ["IPv4", "IPv4"], "ipFamilyPolicy": "PreferDualStack"},
     'spec.ipFamilies[1]: Duplicate value: "IPv4"'),
    ({"ipFamilies": ["IPv5"]}, 'spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"'),
    ({"ipFamilyPolicy": "RequireDualStack"},
     'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services'),
    ({"ipFamilies": ["IPv6"]}, 'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster'),
    ({"ports": [{"name": "HTTP", "port": 80}]},
     "spec.ports[0].name: Invalid value: \"HTTP\": a lowercase RFC 1123 label must consist of lower case "
     "alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or "
     "'123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
    ({"ports": [{"name": "a", "port": 80}, {"port": 81}]}, "spec.ports[1].name: Required value"),
    ({"healthCheckNodePort": 31000},
     "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and "
     "`externalTrafficPolicy` is 'Local'"),
])
def test_invalid_values(kube: EmulatedKubernetes, spec: dict[str, Any], expected: str) -> None:
    assert _message(kube, **spec) == f'Service "bad" is invalid: {expected}'


def test_the_source_ranges_annotation_is_checked_when_the_field_is_empty(kube: EmulatedKubernetes) -> None:
    body = {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "bad", "annotations": {SOURCE_RANGES: "10.0.0.0/8, 300.0.0.0/8"}},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}}
    reply = call(kube, "POST", SERVICES, body)
    assert reply.status == 422
    assert reply.body["message"] == (f'Service "bad" is invalid: metadata.annotations[{SOURCE_RANGES}]: Invalid '
                                     'value: "300.0.0.0/8": must be a valid CIDR value, (e.g. 10.9.8.0/24 or '
                                     "2001:db8::/64)")


def test_several_problems_are_listed_as_the_real_server_lists_them(kube: EmulatedKubernetes) -> None:
    message = _message(kube, loadBalancerSourceRanges=["x"], externalIPs=["y"])
    assert message.startswith('Service "bad" is invalid: [spec.LoadBalancerSourceRanges[0]: Invalid value: "x"')
    assert ', spec.externalIPs[0]: Invalid value: "y"' in message and message.endswith("]")


def test_health_check_node_port_is_immutable_and_a_taken_one_is_an_allocation_error(
        kube: EmulatedKubernetes) -> None:
    first = create_service(kube, "first", externalTrafficPolicy="Local").body
    port = first["spec"]["healthCheckNodePort"]
    moved = call(kube, "PATCH", f"{SERVICES}/first", {"spec": {"healthCheckNodePort": port + 1}}, MERGE)
    assert moved.status == 422
    assert moved.body["message"] == ('Service "first" is invalid: spec.healthCheckNodePort: Forbidden: '
                                     "field is immutable")
    taken = create_service(kube, "second", externalTrafficPolicy="Local", healthCheckNodePort=port)
    assert taken.status == 500 and taken.body["reason"] == "InternalError"
    assert taken.body["message"] == (f"Internal error occurred: failed to allocate requested HealthCheck NodePort "
                                     f"{port}: provided port is already allocated")


def test_dual_stack_policy_with_one_family_is_fine_on_this_single_stack_cluster(kube: EmulatedKubernetes) -> None:
    reply = create_service(kube, "prefer", ipFamilyPolicy="PreferDualStack")
    assert reply.status == 201, reply.body
    assert reply.body["spec"]["ipFamilies"] == ["IPv4"]


def test_helper_writes_skip_value_validation_to_plant_old_objects(kube: EmulatedKubernetes) -> None:
    planted = kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "legacy"},
                           "spec": {"type": "LoadBalancer", "ports": [{"port": 80}],
                                    "loadBalancerSourceRanges": ["10.0.0.0/33"]}})
    assert planted["spec"]["loadBalancerSourceRanges"] == ["10.0.0.0/33"] and planted["spec"]["clusterIP"]
