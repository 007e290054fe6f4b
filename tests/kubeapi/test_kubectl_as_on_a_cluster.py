"""Issue 14's table, row by row: what a kubectl 1.32 user types, and what a real API server answers.

Each test expects the real server's behaviour (exit code and the key part of its
message), not the emulator's former one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudlb.kubeapi import EmulatedKubernetes
from tests.kubeapi.client import Kubectl

pytestmark = pytest.mark.timeout(90)

WEB2 = """\
apiVersion: v1
kind: Service
metadata:
  name: web2
  labels: {app: web2}
spec:
  type: LoadBalancer
  selector: {app: web2}
  ports:
  - {name: http, port: 80, targetPort: 8080}
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_apply_without_flags_validates_on_the_server(kube: EmulatedKubernetes, kubectl: Kubectl,
                                                     tmp_path: Path) -> None:
    manifest = write(tmp_path, "web2.yaml", WEB2)
    assert kubectl("apply", "-f", manifest).stdout.strip() == "service/web2 created"
    assert kubectl("apply", "-f", manifest).stdout.strip() == "service/web2 unchanged"
    typo = write(tmp_path, "typo.yaml", WEB2.replace("name: web2\n", "name: typo\n").replace(
        "  type: LoadBalancer\n", "  type: LoadBalancer\n  loadBalancerSourceRange: [10.0.0.0/8]\n"))
    refused = kubectl("apply", "-f", typo, check=False)
    assert refused.returncode == 1
    assert ('Error from server (BadRequest): error when creating "' in refused.stderr
            and 'Service in version "v1" cannot be handled as a Service: strict decoding error: '
                'unknown field "spec.loadBalancerSourceRange"' in refused.stderr)
    warned = kubectl("apply", "--validate=warn", "-f", typo)
    assert 'Warning: unknown field "spec.loadBalancerSourceRange"' in warned.stderr
    stored = kube.get("v1", "services", "default", "typo")
    assert stored is not None and "loadBalancerSourceRange" not in stored["spec"]


def test_apply_server_side_owns_fields_and_reports_conflicts(kube: EmulatedKubernetes, kubectl: Kubectl,
                                                             tmp_path: Path) -> None:
    manifest = write(tmp_path, "web2.yaml", WEB2)
    assert kubectl("apply", "--server-side", "-f", manifest).stdout.strip() == "service/web2 serverside-applied"
    service = kube.get("v1", "services", "default", "web2")
    assert service is not None
    (entry,) = service["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("kubectl", "Apply", "FieldsV1")
    assert entry["fieldsV1"]["f:spec"]["f:ports"]['k:{"port":80,"protocol":"TCP"}']["f:targetPort"] == {}
    kubectl("patch", "svc", "web2", "--type=merge", "-p", '{"spec":{"ports":[{"name":"http","port":80,'
            '"targetPort":9090}]}}')
    conflict = kubectl("apply", "--server-side", "-f", manifest, check=False)
    assert conflict.returncode == 1
    assert ('Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: '
            '.spec.ports[port=80,protocol="TCP"].targetPort') in conflict.stderr
    forced = kubectl("apply", "--server-side", "--force-conflicts", "-f", manifest)
    assert forced.stdout.strip() == "service/web2 serverside-applied"
    service = kube.get("v1", "services", "default", "web2")
    assert service is not None and service["spec"]["ports"][0]["targetPort"] == 8080
    managers = {entry["manager"] for entry in service["metadata"]["managedFields"]}
    assert "kubectl" in managers


def test_moving_from_client_side_to_server_side_apply_inherits_the_fields(kube: EmulatedKubernetes,
                                                                         kubectl: Kubectl, tmp_path: Path) -> None:
    """The apiserver lets the `kubectl` manager take what its last-applied annotation lists, without conflicts."""
    kubectl("apply", "-f", write(tmp_path, "web2.yaml", WEB2))
    changed = write(tmp_path, "changed.yaml", WEB2.replace("targetPort: 8080", "targetPort: 8081"))
    assert kubectl("apply", "--server-side", "-f", changed).stdout.strip() == "service/web2 serverside-applied"
    service = kube.get("v1", "services", "default", "web2")
    assert service is not None and service["spec"]["ports"][0]["targetPort"] == 8081
    owners = {entry["manager"]: entry for entry in service["metadata"]["managedFields"]}
    assert owners["kubectl"]["operation"] == "Apply"


def test_create_service_loadbalancer_sends_protobuf_and_works(kube: EmulatedKubernetes, kubectl: Kubectl) -> None:
    assert kubectl("create", "service", "loadbalancer", "lb1", "--tcp=80:8080").stdout.strip() == \
        "service/lb1 created"
    service = kube.get("v1", "services", "default", "lb1")
    assert service is not None
    assert service["spec"]["type"] == "LoadBalancer" and service["spec"]["selector"] == {"app": "lb1"}
    (port,) = service["spec"]["ports"]
    assert (port["name"], port["port"], port["targetPort"], port["protocol"]) == ("80-8080", 80, 8080, "TCP")
    assert port["nodePort"]
    assert any(r.method == "POST" and r.resource == "services" for r in kube.requests)


def test_server_dry_run_and_diff(kube: EmulatedKubernetes, kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = write(tmp_path, "web2.yaml", WEB2)
    dry = kubectl("apply", "--dry-run=server", "-f", manifest)
    assert dry.stdout.strip() == "service/web2 created (server dry run)"
    assert kube.get("v1", "services", "default", "web2") is None
    new = kubectl("diff", "-f", manifest, check=False)
    assert new.returncode == 1 and "+  name: web2" in new.stdout
    kubectl("apply", "-f", manifest)
    assert kubectl("diff", "-f", manifest, check=False).returncode == 0
    changed = write(tmp_path, "changed.yaml", WEB2.replace("targetPort: 8080", "targetPort: 8081"))
    diff = kubectl("diff", "-f", changed, check=False)
    assert diff.returncode == 1
    assert "-    targetPort: 8080" in diff.stdout and "+    targetPort: 8081" in diff.stdout
    # The field belongs to client-side apply; kubectl's manager inherits it, as on a real server.
    server_side = kubectl("diff", "--server-side", "-f", changed, check=False)
    assert server_side.returncode == 1 and "+    targetPort: 8081" in server_side.stdout
    stored = kube.get("v1", "services", "default", "web2")
    assert stored is not None and stored["spec"]["ports"][0]["targetPort"] == 8080


def test_explain_service_spec(kubectl: Kubectl) -> None:
    explained = kubectl("explain", "service.spec").stdout
    assert "KIND:       Service" in explained and "VERSION:    v1" in explained
    assert "FIELD: spec <ServiceSpec>" in explained
    assert "loadBalancerSourceRanges\t<[]string>" in explained
    recursive = kubectl("explain", "deployment.spec.template.spec.containers.ports", "--api-version=apps/v1").stdout
    assert "containerPort\t<integer> -required-" in recursive


def test_create_deployment_then_expose_it(kube: EmulatedKubernetes, kubectl: Kubectl) -> None:
    created = kubectl("create", "deployment", "echo", "--image=registry.k8s.io/echoserver:1.10", "--port=8080")
    assert created.stdout.strip() == "deployment.apps/echo created"
    deployment = kube.get("apps/v1", "deployments", "default", "echo")
    assert deployment is not None
    assert deployment["spec"]["replicas"] == 1 and deployment["spec"]["selector"] == {"matchLabels": {"app": "echo"}}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.k8s.io/echoserver:1.10" and container["imagePullPolicy"] == "IfNotPresent"
    exposed = kubectl("expose", "deployment", "echo", "--type=LoadBalancer", "--port=80", "--target-port=8080")
    assert exposed.stdout.strip() == "service/echo exposed"
    service = kube.get("v1", "services", "default", "echo")
    assert service is not None and service["spec"]["selector"] == {"app": "echo"}
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    table = kubectl("get", "deploy", "echo").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:4] == ["echo", "0/1", "0", "0"]
    described = kubectl("describe", "deployment", "echo").stdout
    assert "Progressing   Unknown  NoControllerInSandbox" in described


@pytest.mark.parametrize(("spec_line", "expected"), [
    ("loadBalancerSourceRanges: [10.0.0.0/33]",
     'The Service "bad" is invalid: spec.LoadBalancerSourceRanges[0]: Invalid value: "10.0.0.0/33": '
     "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"),
    ("externalIPs: [999.1.1.1]",
     'The Service "bad" is invalid: spec.externalIPs[0]: Invalid value: "999.1.1.1": '
     "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
    ("ipFamilies: [IPv4, IPv6]",
     "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be 'RequireDualStack' or 'PreferDualStack' "
     "when multiple IP families are specified"),
])
def test_invalid_fields_cloudlb_reads_are_422(kube: EmulatedKubernetes, kubectl: Kubectl, tmp_path: Path,
                                              spec_line: str, expected: str) -> None:
    manifest = write(tmp_path, "bad.yaml", f"apiVersion: v1\nkind: Service\nmetadata: {{name: bad}}\nspec:\n"
                     f"  type: LoadBalancer\n  {spec_line}\n  ports: [{{port: 80}}]\n")
    refused = kubectl("apply", "-f", manifest, check=False)
    assert refused.returncode == 1
    assert expected in refused.stderr
    assert kube.get("v1", "services", "default", "bad") is None


def test_a_bad_load_balancer_ip_is_stored_with_the_servers_warning(kube: EmulatedKubernetes, kubectl: Kubectl,
                                                                  tmp_path: Path) -> None:
    # The real API server does not validate spec.loadBalancerIP (pkg/api/service/warnings.go only warns):
    # refusing it is the controller's job, with a Warning Event on the Service.
    manifest = write(tmp_path, "ip.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: ip}\nspec:\n"
                     "  type: LoadBalancer\n  loadBalancerIP: 999.1.1.1\n  ports: [{port: 80}]\n")
    result = kubectl("apply", "-f", manifest)
    assert result.stdout.strip() == "service/ip created"
    assert ('Warning: spec.loadBalancerIP: IP address was accepted, but will be invalid in a future Kubernetes '
            'release: ParseAddr("999.1.1.1"): IPv4 field has value >255') in result.stderr


def test_the_default_service_and_namespaces_exist(kube: EmulatedKubernetes, kubectl: Kubectl) -> None:
    row = kubectl("get", "svc", "kubernetes").stdout.splitlines()[1].split()
    assert row[:5] == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP"]
    namespaces = {line.split()[0]: line.split()[1] for line in kubectl("get", "ns").stdout.splitlines()[1:]}
    assert namespaces == {"default": "Active", "kube-node-lease": "Active", "kube-public": "Active",
                          "kube-system": "Active"}
    endpoints = json.loads(kubectl("get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes",
                                   "-o", "json").stdout)["items"]
    assert endpoints[0]["ports"][0]["port"] == kube.port
    refused = kubectl("delete", "ns", "default", check=False)
    assert refused.returncode == 1
    assert 'namespaces "default" is forbidden: this namespace may not be deleted' in refused.stderr


def test_a_terminating_namespace_refuses_new_objects_then_goes(kube: EmulatedKubernetes, kubectl: Kubectl) -> None:
    assert kubectl("create", "namespace", "shop").stdout.strip() == "namespace/shop created"
    kubectl("-n", "shop", "create", "service", "loadbalancer", "held", "--tcp=80")
    kubectl("-n", "shop", "patch", "svc", "held", "--type=merge", "-p",
            '{"metadata":{"finalizers":["example.com/hold"]}}')
    kubectl("delete", "namespace", "shop", "--wait=false")
    assert kubectl("get", "ns", "shop").stdout.splitlines()[1].split()[1] == "Terminating"
    refused = kubectl("-n", "shop", "create", "service", "clusterip", "late", "--tcp=80", check=False)
    assert refused.returncode == 1
    assert ('services "late" is forbidden: unable to create new content in namespace shop because it is being '
            'terminated') in refused.stderr
    kubectl("-n", "shop", "patch", "svc", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    gone = kubectl("get", "ns", "shop", check=False)
    assert gone.returncode == 1 and 'namespaces "shop" not found' in gone.stderr
