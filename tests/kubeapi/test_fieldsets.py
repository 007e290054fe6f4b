"""Field sets by schema, FieldsV1 both ways, and the structured merge of applied configurations."""

from __future__ import annotations

from cloudlb.kubeapi import fieldsets, schemas

SERVICE = schemas.for_kind("", "v1", "Service")


def test_fields_of_a_service_follow_its_schema() -> None:
    fields = fieldsets.of_object({"metadata": {"name": "web", "labels": {"app": "web"}, "finalizers": ["a.io/x"]},
                                  "spec": {"ports": [{"port": 80, "name": "http"}], "type": "LoadBalancer"},
                                  "status": {"loadBalancer": {}}}, SERVICE, None)
    assert fields == {
        ("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:app"),
        ("f:metadata", "f:finalizers"), ("f:metadata", "f:finalizers", 'v:"a.io/x"'),
        ("f:spec", "f:ports"), ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}'),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}', "f:port"),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}', "f:name"),
        ("f:spec", "f:type"),
    }


def test_fields_v1_round_trips_and_marks_members_with_a_dot_first() -> None:
    fields = frozenset({("f:metadata", "f:labels"), ("f:metadata", "f:labels", "f:app"), ("f:spec", "f:type")})
    tree = fieldsets.to_fields_v1(fields)
    assert tree == {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:type": {}}}
    assert next(iter(tree["f:metadata"]["f:labels"])) == "."
    assert fieldsets.from_fields_v1(tree) == fields


def test_paths_are_described_as_structured_merge_diff_prints_them() -> None:
    assert fieldsets.describe(("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}', "f:targetPort")) == \
        '.spec.ports[port=80,protocol="TCP"].targetPort'
    assert fieldsets.describe(("f:metadata", "f:finalizers", 'v:"a.io/x"')) == '.metadata.finalizers[="a.io/x"]'


def test_merge_keys_lists_by_key_unions_sets_and_replaces_atomic_lists() -> None:
    live = {"metadata": {"finalizers": ["a"]},
            "spec": {"ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}], "externalIPs": ["192.0.2.1"]}}
    applied = {"metadata": {"finalizers": ["b"]},
               "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}], "externalIPs": ["192.0.2.2"]}}
    merged = fieldsets.merge(live, applied, SERVICE)
    assert merged["metadata"]["finalizers"] == ["a", "b"]
    assert merged["spec"]["ports"] == [{"port": 80, "protocol": "TCP", "nodePort": 30080, "name": "http"},
                                       {"port": 443}]
    assert merged["spec"]["externalIPs"] == ["192.0.2.2"]
    fieldsets.remove(merged, ("f:spec", "f:ports", 'k:{"port":443,"protocol":"TCP"}'))
    assert [port["port"] for port in merged["spec"]["ports"]] == [80]
