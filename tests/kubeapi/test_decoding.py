"""A value of the wrong type fails the real server's JSON decoding, before any validation and on every version.

So a create or update is a 400 in the decoder's words, a patch that produces one a 422 naming ``patch``, and
the helpers (which skip validation, to plant what an older server stored) cannot store one either. Before,
such values reached the Service admission and ended in a 500 (a Python TypeError) or a validation 422.
"""

from __future__ import annotations

from typing import Any

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.kubeapi.errors import ApiError
from tests.kubeapi.client import MERGE, SERVICES, call, create_service, service


@pytest.mark.parametrize(("spec", "field", "found", "go_type"), [
    ({"externalTrafficPolicy": {"a": 1}}, "spec.externalTrafficPolicy", "object", "string"),
    ({"externalTrafficPolicy": [[True]]}, "spec.externalTrafficPolicy", "array", "string"),
    ({"ports": "80"}, "spec.ports", "string", "[]struct"),
    ({"ports": [80]}, "spec.ports[0]", "number", "struct"),
    ({"ports": [{"port": "80"}]}, "spec.ports[0].port", "string", "int32"),
    ({"ports": [{"port": 80.5}]}, "spec.ports[0].port", "number 80.5", "int32"),
    ({"ports": [{"port": 2**40}]}, "spec.ports[0].port", f"number {2**40}", "int32"),
    ({"ports": [{"port": 80, "targetPort": True}]}, "spec.ports[0].targetPort", "bool", "intstr.IntOrString"),
    ({"loadBalancerSourceRanges": ["10.0.0.0/8", 1]}, "spec.loadBalancerSourceRanges[1]", "number", "string"),
    ({"allocateLoadBalancerNodePorts": "yes"}, "spec.allocateLoadBalancerNodePorts", "string", "bool"),
])
def test_a_value_of_the_wrong_type_is_a_400_through_http_and_refused_by_the_helper(
        kube: EmulatedKubernetes, spec: dict[str, Any], field: str, found: str, go_type: str) -> None:
    manifest = service("odd")
    manifest["spec"].update(spec)
    expected = (f'Service in version "v1" cannot be handled as a Service: json: cannot unmarshal {found} into Go '
                f"struct field {field} of type {go_type}")
    reply = call(kube, "POST", SERVICES, manifest)
    assert (reply.status, reply.body["message"]) == (400, expected)
    with pytest.raises(ApiError) as refused:
        kube.create(manifest)
    assert (refused.value.code, refused.value.message) == (400, expected)
    assert kube.get("v1", "services", "default", "odd") is None


def test_right_types_and_nulls_decode(kube: EmulatedKubernetes) -> None:
    manifest = service("fine")
    manifest["spec"].update({"ports": [{"port": 80, "targetPort": "http", "nodePort": None}],
                             "externalTrafficPolicy": None, "selector": {"app": "fine"}})
    reply = call(kube, "POST", SERVICES, manifest)
    assert reply.status == 201, reply.body


def test_a_patch_that_produces_a_wrong_type_is_a_422_naming_the_patch(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    reply = call(kube, "PATCH", f"{SERVICES}/web", {"spec": {"sessionAffinity": 3}}, MERGE)
    assert reply.status == 422
    assert reply.body["details"]["causes"][0]["field"] == "patch"
    assert "json: cannot unmarshal number into Go struct field spec.sessionAffinity of type string" in \
        reply.body["message"]
