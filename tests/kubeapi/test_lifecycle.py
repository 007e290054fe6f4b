"""Start, stop, helpers, the request log, and the ``python -m cloudlb.kubeapi`` entry point."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cloudlb.kubeapi import ApiError, EmulatedKubernetes
from tests.kubeapi.client import WatchStream, call, create_service, service


def _free_port() -> int:
    with socket.socket() as finder:
        finder.bind(("127.0.0.1", 0))
        port: int = finder.getsockname()[1]
        return port


def _can_listen_on(port: int) -> bool:
    # SO_REUSEADDR: closed connections in TIME_WAIT do not count, a listening socket does.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


def test_after_stop_the_port_is_free() -> None:
    kube = EmulatedKubernetes().start()
    port = kube.port
    watch = WatchStream(kube, "/api/v1/services")
    create_service(kube, "web")
    assert not _can_listen_on(port)
    kube.stop()
    watch.close()
    assert _can_listen_on(port)
    with pytest.raises(RuntimeError):
        _ = kube.url


def test_a_given_port_is_used_and_stop_is_idempotent() -> None:
    free_port = _free_port()
    with EmulatedKubernetes(port=free_port) as kube:
        assert kube.url == f"http://127.0.0.1:{free_port}"
        assert call(kube, "GET", "/version").status == 200
    kube.stop()


def test_helpers_share_the_http_semantics(kube: EmulatedKubernetes) -> None:
    created = kube.create(dict(service("web"), metadata={"name": "web", "namespace": "default"}))
    assert created["spec"]["ports"][0]["nodePort"]
    assert kube.get("v1", "services", "default", "web") == call(
        kube, "GET", "/api/v1/namespaces/default/services/web").body
    patched = kube.patch("v1", "services", "default", "web", {"status": {"loadBalancer": {"ingress": [
        {"ip": "192.0.2.1"}]}}}, subresource="status")
    assert patched["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.1"}]
    ignored = kube.patch("v1", "services", "default", "web", {"status": {"loadBalancer": {}}})
    assert ignored["status"]["loadBalancer"]["ingress"] == [{"ip": "192.0.2.1"}]
    assert [item["metadata"]["name"] for item in kube.list("v1", "services")] == ["kubernetes", "web"]
    assert kube.list("v1", "services", "kube-system") == []
    with pytest.raises(ApiError) as raised:
        kube.create(dict(service("web"), metadata={"name": "web"}))
    assert raised.value.code == 409
    kube.delete("v1", "services", "default", "web")
    assert kube.get("v1", "services", "default", "web") is None
    node = kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    assert node["metadata"]["uid"] and "namespace" not in node["metadata"]


def test_requests_are_recorded_with_rbac_verbs(kube: EmulatedKubernetes) -> None:
    base = "/api/v1/namespaces/default/services"
    create_service(kube, "web")
    call(kube, "GET", base)
    call(kube, "GET", f"{base}/web")
    call(kube, "PATCH", f"{base}/web/status", {"status": {}}, "application/merge-patch+json")
    body = call(kube, "GET", f"{base}/web").body
    call(kube, "PUT", f"{base}/web", body)
    WatchStream(kube, "/api/v1/nodes", timeoutSeconds="1").close()
    call(kube, "DELETE", f"{base}/web")
    call(kube, "GET", "/apis")
    kube.create({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "not-recorded"}})
    recorded = [(r.verb, r.api_group, r.resource, r.subresource, r.namespace, r.name) for r in kube.requests]
    assert recorded == [
        ("create", "", "services", None, "default", None),
        ("list", "", "services", None, "default", None),
        ("get", "", "services", None, "default", "web"),
        ("patch", "", "services", "status", "default", "web"),
        ("get", "", "services", None, "default", "web"),
        ("update", "", "services", None, "default", "web"),
        ("watch", "", "nodes", None, None, None),
        ("delete", "", "services", None, "default", "web"),
        ("get", None, None, None, None, None),
    ]
    assert kube.requests[-1].path == "/apis"


def test_kubeconfig_points_at_the_server(kube: EmulatedKubernetes, tmp_path: Path) -> None:
    path = kube.write_kubeconfig(tmp_path / "sub" / "kubeconfig")
    config = json.loads(path.read_text())
    assert config["current-context"] == "cloudlb-sandbox"
    assert config["clusters"][0]["cluster"]["server"] == kube.url
    assert {context["name"] for context in config["contexts"]} == {"cloudlb-sandbox"}


def test_module_entry_point_serves_until_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudlb.kubeapi", "--port", str(port), "--kubeconfig", str(kubeconfig)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    try:
        assert process.stdout is not None
        first_line = process.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first_line
        deadline = time.monotonic() + 10
        while not kubeconfig.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/namespaces", timeout=5) as response:
            assert json.load(response)["kind"] == "NamespaceList"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_start_on_a_busy_port_fails_clearly() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        kube = EmulatedKubernetes(port=busy.getsockname()[1])
        with pytest.raises(RuntimeError, match="failed to start"):
            kube.start()
    kube.stop()  # nothing is running; stop stays harmless
