"""Server-side Table output for kubectl's default printing."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.kubeapi.resources import Catalogue
from cloudlb.kubeapi.tables import human_duration, table
from tests.kubeapi.client import MERGE, TABLE, call, create_service


def _table(kube: EmulatedKubernetes, path: str, **params: str) -> dict[str, Any]:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    reply = call(kube, "GET", f"{path}?{query}" if query else path, accept=TABLE)
    assert reply.status == 200, reply.body
    assert reply.body["kind"] == "Table" and reply.body["apiVersion"] == "meta.k8s.io/v1"
    table: dict[str, Any] = reply.body
    return table


def _rows(table: dict[str, Any]) -> list[dict[str, Any]]:
    headers = [column["name"].upper() for column in table["columnDefinitions"]]
    return [dict(zip(headers, row["cells"], strict=True)) for row in table["rows"]]


def test_service_columns(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web", ports=[{"name": "http", "port": 80, "nodePort": 31234},
                                       {"name": "dns", "port": 53, "protocol": "UDP", "nodePort": 30053}])
    create_service(kube, "internal", service_type="ClusterIP", clusterIP="10.96.0.20")
    table = _table(kube, "/api/v1/namespaces/default/services")
    assert [column["name"].upper() for column in table["columnDefinitions"] if column["priority"] == 0] == [
        "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    rows = {row["NAME"]: row for row in _rows(table)}
    assert rows["web"]["TYPE"] == "LoadBalancer"
    assert rows["web"]["EXTERNAL-IP"] == "<pending>"
    assert rows["web"]["PORT(S)"] == "80:31234/TCP,53:30053/UDP"
    assert rows["internal"]["CLUSTER-IP"] == "10.96.0.20"
    assert rows["internal"]["EXTERNAL-IP"] == "<none>"
    assert rows["internal"]["PORT(S)"] == "80/TCP"
    assert rows["web"]["AGE"].endswith("s")


def test_service_external_ip_joins_ingress_ips_and_hostnames(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    call(kube, "PATCH", "/api/v1/namespaces/default/services/web/status",
         {"status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}, {"hostname": "lb.example.com"}]}}}, MERGE)
    (row,) = _rows(_table(kube, "/api/v1/namespaces/default/services/web"))
    assert row["EXTERNAL-IP"] == "192.0.2.7,lb.example.com"


def test_node_columns(kube: EmulatedKubernetes) -> None:
    node = {"metadata": {"name": "node-a", "labels": {"node-role.kubernetes.io/control-plane": ""}},
            "spec": {"unschedulable": True},
            "status": {"conditions": [{"type": "Ready", "status": "True"}],
                       "nodeInfo": {"kubeletVersion": "v1.30.1"}}}
    call(kube, "POST", "/api/v1/nodes", node)
    call(kube, "POST", "/api/v1/nodes", {"metadata": {"name": "node-b"},
                                         "status": {"conditions": [{"type": "Ready", "status": "False"}]}})
    rows = {row["NAME"]: row for row in _rows(_table(kube, "/api/v1/nodes"))}
    assert rows["node-a"]["STATUS"] == "Ready,SchedulingDisabled"
    assert rows["node-a"]["ROLES"] == "control-plane"
    assert rows["node-a"]["VERSION"] == "v1.30.1"
    assert rows["node-b"]["STATUS"] == "NotReady" and rows["node-b"]["ROLES"] == "<none>"


def test_event_columns(kube: EmulatedKubernetes) -> None:
    call(kube, "POST", "/api/v1/namespaces/default/events", {
        "metadata": {"generateName": "web-"}, "type": "Warning", "reason": "SyncLoadBalancerFailed",
        "message": "no capacity", "involvedObject": {"kind": "Service", "name": "web", "namespace": "default"},
        "lastTimestamp": "2000-01-01T00:00:00Z"})
    table = _table(kube, "/api/v1/namespaces/default/events")
    assert [column["name"].upper() for column in table["columnDefinitions"]] == [
        "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    (row,) = _rows(table)
    assert row["TYPE"] == "Warning" and row["REASON"] == "SyncLoadBalancerFailed"
    assert row["OBJECT"] == "service/web" and row["MESSAGE"] == "no capacity"
    assert row["LAST SEEN"].endswith("y")


@pytest.mark.parametrize(("include", "expected_kind"), [("Metadata", "PartialObjectMetadata"),
                                                        ("Object", "Service"), ("None", None)])
def test_include_object(kube: EmulatedKubernetes, include: str, expected_kind: str | None) -> None:
    create_service(kube, "web")
    (row,) = _table(kube, "/api/v1/namespaces/default/services", includeObject=include,
                    fieldSelector="metadata.name=web")["rows"]
    if expected_kind is None:
        assert "object" not in row
    else:
        assert row["object"]["kind"] == expected_kind
        assert row["object"]["metadata"]["name"] == "web"


def test_default_layout_for_other_resources(kube: EmulatedKubernetes) -> None:
    call(kube, "POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases", {"metadata": {"name": "lock"}})
    (row,) = _rows(_table(kube, "/apis/coordination.k8s.io/v1/namespaces/default/leases"))
    assert set(row) == {"NAME", "AGE"} and row["NAME"] == "lock"


def test_plain_json_without_the_table_accept_header(kube: EmulatedKubernetes) -> None:
    create_service(kube, "web")
    assert call(kube, "GET", "/api/v1/namespaces/default/services").body["kind"] == "ServiceList"


@pytest.mark.parametrize(("seconds", "text"), [
    (5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"),
    (20 * 3600, "20h"), (3 * 86400 + 3600, "3d1h"), (30 * 86400, "30d"), (-5, "<invalid>"),
])
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_age_is_computed_from_creation() -> None:
    services = Catalogue().find("", "v1", "services")
    assert services is not None
    created = {"metadata": {"name": "old", "creationTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"type": "ClusterIP"}}
    now = datetime.datetime(2026, 1, 1, 0, 5, tzinfo=datetime.UTC)
    rendered = table(services, [created], "1", now=now)
    assert rendered["rows"][0]["cells"][5] == "5m"
