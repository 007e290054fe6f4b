"""A tiny HTTP client for the tests: plain urllib/http.client against the emulator's port."""

from __future__ import annotations

import http.client
import json
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloudlb.kubeapi import EmulatedKubernetes

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]
Background = Callable[..., subprocess.Popen[str]]
MERGE = "application/merge-patch+json"
SERVICES = "/api/v1/namespaces/default/services"

SERVICE_YAML = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app: web
spec:
  type: LoadBalancer
  selector:
    app: web
  ports:
  - name: http
    port: 80
    targetPort: 8080
"""


@dataclass(frozen=True)
class Reply:
    status: int
    content_type: str
    body: Any


def call(kube: EmulatedKubernetes, method: str, path: str, body: Any = None,
         content_type: str = "application/json", accept: str = "application/json") -> Reply:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(kube.url + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return Reply(response.status, response.headers.get("Content-Type", ""), _decode(raw))
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers.get("Content-Type", ""), _decode(error.read()))


def _decode(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode()


def service(name: str, ports: list[dict[str, Any]] | None = None, service_type: str = "LoadBalancer",
            **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": service_type, "ports": ports if ports is not None else [{"port": 80}], **spec}}


def create_service(kube: EmulatedKubernetes, name: str, namespace: str = "default", **kwargs: Any) -> Reply:
    return call(kube, "POST", f"/api/v1/namespaces/{namespace}/services", service(name, **kwargs))


class WatchStream:
    """An open ``?watch=true`` response, read one JSON line at a time."""

    def __init__(self, kube: EmulatedKubernetes, path: str, accept: str = "application/json",
                 timeout: float = 10.0, **params: str) -> None:
        query = urllib.parse.urlencode({"watch": "true", **params})
        self.connection = http.client.HTTPConnection("127.0.0.1", kube.port, timeout=timeout)
        self.connection.request("GET", f"{path}?{query}", headers={"Accept": accept})
        self.response = self.connection.getresponse()

    @property
    def content_type(self) -> str:
        return self.response.getheader("Content-Type", "")

    def next_event(self) -> dict[str, Any]:
        line = self.response.readline()
        if not line:
            raise EOFError("the watch stream ended")
        event: dict[str, Any] = json.loads(line)
        return event

    def read_until_end(self) -> bytes:
        return self.response.read()

    def close(self) -> None:
        self.connection.close()
