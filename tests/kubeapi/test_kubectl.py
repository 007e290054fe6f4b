"""The real kubectl binary against the emulator (KUBECONFIG and KUBECACHEDIR in a temp folder).

No test passes --validate=false: kubectl reads the OpenAPI v3 documents and lets the server validate."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import SERVICE_YAML, Background, Kubectl

pytestmark = pytest.mark.timeout(60)



def _columns(line: str) -> list[str]:
    return line.split()


def test_create_and_get_services_as_a_table(kube: EmulatedKubernetes, kubectl: Kubectl, manifest: Path) -> None:
    assert "service/web created" in kubectl("create", "-f", str(manifest)).stdout
    lines = kubectl("get", "svc", "web").stdout.splitlines()
    assert _columns(lines[0]) == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    service = kube.get("v1", "services", "default", "web")
    assert service is not None
    node_port = service["spec"]["ports"][0]["nodePort"]
    name, kind, cluster_ip, external_ip, ports, _age = _columns(lines[1])
    assert (name, kind, external_ip) == ("web", "LoadBalancer", "<pending>")
    assert cluster_ip == service["spec"]["clusterIP"]
    assert ports == f"80:{node_port}/TCP"


def test_get_as_json_and_yaml(kube: EmulatedKubernetes, kubectl: Kubectl, manifest: Path) -> None:
    kubectl("create", "-f", str(manifest))
    as_json = json.loads(kubectl("get", "svc", "web", "-o", "json").stdout)
    assert as_json["metadata"]["uid"] == kube.get("v1", "services", "default", "web")["metadata"]["uid"]  # type: ignore[index]
    listed = json.loads(kubectl("get", "services", "-o", "json").stdout)
    assert [item["metadata"]["name"] for item in listed["items"]] == ["kubernetes", "web"]
    as_yaml = kubectl("get", "svc", "web", "-o", "yaml").stdout
    assert "kind: Service" in as_yaml and "allocateLoadBalancerNodePorts: true" in as_yaml


def test_apply_creates_then_patches_keeping_node_ports(kube: EmulatedKubernetes, kubectl: Kubectl,
                                                        manifest: Path) -> None:
    assert "service/web created" in kubectl("apply", "-f", str(manifest)).stdout
    first = kube.get("v1", "services", "default", "web")
    assert first is not None
    assert "kubectl.kubernetes.io/last-applied-configuration" in first["metadata"]["annotations"]
    manifest.write_text(SERVICE_YAML + "  - name: https\n    port: 443\n")
    result = kubectl("apply", "-f", str(manifest))
    assert "service/web configured" in result.stdout
    second = kube.get("v1", "services", "default", "web")
    assert second is not None
    assert [port["port"] for port in second["spec"]["ports"]] == [80, 443]
    assert second["spec"]["ports"][0]["nodePort"] == first["spec"]["ports"][0]["nodePort"]
    assert second["spec"]["ports"][0]["targetPort"] == 8080
    assert second["metadata"]["generation"] == 2
    assert "unchanged" in kubectl("apply", "-f", str(manifest)).stdout


def test_patch_merge_and_json(kube: EmulatedKubernetes, kubectl: Kubectl, manifest: Path) -> None:
    kubectl("create", "-f", str(manifest))
    kubectl("patch", "svc", "web", "--type=merge", "-p", '{"metadata":{"labels":{"team":"blue"}}}')
    kubectl("patch", "svc", "web", "--type=json", "-p",
            '[{"op":"add","path":"/metadata/finalizers","value":["example.com/hold"]}]')
    service = kube.get("v1", "services", "default", "web")
    assert service is not None
    assert service["metadata"]["labels"] == {"app": "web", "team": "blue"}
    assert service["metadata"]["finalizers"] == ["example.com/hold"]
    failed = kubectl("patch", "svc", "web", "--type=merge", "-p", '{"spec":{"type":"Balancer"}}', check=False)
    assert failed.returncode != 0 and "spec.type" in failed.stderr


def test_describe_shows_the_services_events(kube: EmulatedKubernetes, kubectl: Kubectl, manifest: Path) -> None:
    kubectl("create", "-f", str(manifest))
    service = kube.get("v1", "services", "default", "web")
    assert service is not None
    for name, uid, reason in (("web", service["metadata"]["uid"], "EnsuredLoadBalancer"),
                              ("other", "another-uid", "SomethingElse")):
        kube.create({"apiVersion": "v1", "kind": "Event", "metadata": {"generateName": f"{name}-"},
                     "type": "Normal", "reason": reason, "message": f"about {name}", "source": {"component": "t"},
                     "involvedObject": {"apiVersion": "v1", "kind": "Service", "name": name, "namespace": "default",
                                        "uid": uid}})
    described = kubectl("describe", "svc", "web").stdout
    assert "LoadBalancer" in described
    assert "EnsuredLoadBalancer" in described and "about web" in described
    assert "SomethingElse" not in described
    events = kubectl("get", "events").stdout.splitlines()
    assert _columns(events[0])[:4] == ["LAST", "SEEN", "TYPE", "REASON"]
    assert any("service/web" in line and "EnsuredLoadBalancer" in line for line in events[1:])


def test_get_watch_streams_new_rows(kube: EmulatedKubernetes, kubectl: Kubectl, manifest: Path,
                                    background: Background) -> None:
    kubectl("create", "-f", str(manifest))
    watcher = background("get", "svc", "-w")
    assert watcher.stdout is not None
    assert _columns(watcher.stdout.readline())[0] == "NAME"
    assert _columns(watcher.stdout.readline())[0] == "kubernetes"
    assert _columns(watcher.stdout.readline())[0] == "web"
    kube.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "late", "namespace": "default"},
                 "spec": {"type": "ClusterIP", "ports": [{"port": 53, "protocol": "UDP"}]}})
    late = _columns(watcher.stdout.readline())
    assert late[:2] == ["late", "ClusterIP"] and late[4] == "53/UDP"


def test_delete_waits_for_finalizers_unless_told_not_to(kube: EmulatedKubernetes, kubectl: Kubectl,
                                                        manifest: Path,
                                                        background: Background) -> None:
    kubectl("create", "-f", str(manifest))
    kube.patch("v1", "services", "default", "web", {"metadata": {"finalizers": ["example.com/hold"]}})
    kubectl("delete", "svc", "web", "--wait=false")
    held = kube.get("v1", "services", "default", "web")
    assert held is not None and held["metadata"]["deletionTimestamp"]
    waiting = background("delete", "svc", "web")
    time.sleep(1.0)
    assert waiting.poll() is None  # still waiting for the finalizer
    kube.patch("v1", "services", "default", "web", {"metadata": {"finalizers": None}})
    assert waiting.wait(timeout=20) == 0
    assert kube.get("v1", "services", "default", "web") is None


def test_nodes_and_namespaces(kube: EmulatedKubernetes, kubectl: Kubectl, tmp_path: Path) -> None:
    node = tmp_path / "node.json"
    node.write_text(json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-a"}}))
    kubectl("create", "-f", str(node))
    kubectl("patch", "node", "node-a", "--subresource=status", "--type=merge", "-p",
            '{"status":{"conditions":[{"type":"Ready","status":"True"}],"nodeInfo":{"kubeletVersion":"v1.30.2"}}}')
    lines = kubectl("get", "no").stdout.splitlines()
    assert _columns(lines[0]) == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    name, status, roles, _age, version = _columns(lines[1])
    assert (name, status, roles, version) == ("node-a", "Ready", "<none>", "v1.30.2")
    namespaces = {_columns(line)[0] for line in kubectl("get", "ns").stdout.splitlines()[1:]}
    assert {"default", "kube-system"} <= namespaces
    kubectl("delete", "node", "node-a")
    assert kube.get("v1", "nodes", None, "node-a") is None
