"""Protobuf request bodies, decoded into what JSON would carry (kubectl's own bodies: test_kubectl*)."""

from __future__ import annotations

import http.client
from typing import Any

import pytest

from cloudlb.kubeapi import ApiError, EmulatedKubernetes
from cloudlb.kubeapi.protobuf import MEDIA_TYPE, decode
from cloudlb.kubeapi.resources import Catalogue, ResourceType


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def field(number: int, value: int | bytes | str) -> bytes:
    """One field in wire format: ints as varints, strings/bytes/messages length-delimited."""
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + field(1, field(1, api_version) + field(2, kind)) + field(2, raw)


def resource(plural: str, group: str = "") -> ResourceType:
    found = Catalogue().find(group, "v1", plural)
    assert found is not None
    return found


# ServiceSpec: ports=1, selector=2, type=4; ServicePort: name=1, protocol=2, port=3, targetPort=4 (IntOrString).
SERVICE = field(1, field(1, "web") + field(11, field(1, "app") + field(2, "web"))) + field(2, (
    field(1, field(1, "http") + field(2, "TCP") + field(3, 80) + field(4, field(1, 1) + field(3, "http-alt")))
    + field(2, field(1, "app") + field(2, "web")) + field(4, "LoadBalancer")))


def test_a_service_decodes_to_its_json_form() -> None:
    obj = decode(envelope("v1", "Service", SERVICE), resource("services"))
    assert obj == {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app": "web"}},
                   "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http-alt"}],
                            "selector": {"app": "web"}, "type": "LoadBalancer"}}


def test_zero_values_vanish_except_where_zero_means_something() -> None:
    # DeploymentSpec.replicas=1 (a pointer: 0 is kept); ObjectMeta.name=1 empty, creationTimestamp=8 zero Time.
    body = envelope("apps/v1", "Deployment", field(1, field(1, "") + field(8, b"")) + field(2, field(1, 0)))
    obj: dict[str, Any] = decode(body, resource("deployments", "apps"))
    assert obj["metadata"] == {} and obj["spec"] == {"replicas": 0}


@pytest.mark.parametrize("body", [b"not protobuf", b"k8s\x00" + field(2, b"\x0a\xff"), b"k8s\x00\x0a\x05ab"])
def test_malformed_bodies_are_a_bad_request(body: bytes) -> None:
    with pytest.raises(ApiError) as raised:
        decode(body, resource("services"))
    assert raised.value.code == 400


def test_a_kind_without_protobuf_is_unsupported_media_type() -> None:
    peering = Catalogue().find("kopf.dev", "v1", "kopfpeerings")
    assert peering is not None
    with pytest.raises(ApiError) as raised:
        decode(envelope("kopf.dev/v1", "KopfPeering", b""), peering)
    assert raised.value.code == 415


def test_over_http(kube: EmulatedKubernetes) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", kube.port, timeout=10)
    try:
        connection.request("POST", "/api/v1/namespaces/default/services", body=envelope("v1", "Service", SERVICE),
                           headers={"Content-Type": MEDIA_TYPE, "Accept": f"{MEDIA_TYPE}, application/json"})
        response = connection.getresponse()
        assert response.status == 201 and response.getheader("Content-Type") == "application/json"
        response.read()
    finally:
        connection.close()
    stored = kube.get("v1", "services", "default", "web")
    assert stored is not None and stored["spec"]["ports"][0]["targetPort"] == "http-alt"
