"""Server-side ``Table`` output (``Accept: application/json;as=Table;g=meta.k8s.io;v=v1``).

kubectl asks the server how to print a resource; these are the columns the real
server answers for Services, Nodes and Events, and NAME/AGE for everything else.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from cloudlb.kubeapi.resources import ResourceType

Obj = Mapping[str, Any]
Column = tuple[str, str, str, int]  # name, type, description, priority
RowCells = Callable[[Obj, datetime.datetime], list[Any]]


def wants_table(accept: str) -> bool:
    return any("as=table" in part.lower().replace(" ", "") for part in accept.split(","))


def human_duration(seconds: float) -> str:
    """The short age format of the real server (k8s.io/apimachinery/pkg/util/duration.HumanDuration)."""
    if seconds < -1:
        return "<invalid>"
    seconds = max(0, int(seconds))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    if days < 365 * 2:
        return f"{days}d"
    if days < 365 * 8:
        return f"{days // 365}y{days % 365}d" if days % 365 else f"{days // 365}y"
    return f"{days // 365}y"


def _age(timestamp: Any, now: datetime.datetime) -> str:
    if not isinstance(timestamp, str) or not timestamp:
        return "<unknown>"
    try:
        then = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    if then.tzinfo is None:
        then = then.replace(tzinfo=datetime.UTC)
    return human_duration((now - then).total_seconds())


def _metadata(obj: Obj) -> Obj:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _name(obj: Obj) -> Any:
    return _metadata(obj).get("name", "")


def _created_age(obj: Obj, now: datetime.datetime) -> str:
    return _age(_metadata(obj).get("creationTimestamp"), now)


def _service_external_ip(spec: Obj, status: Obj) -> str:
    ingress = (status.get("loadBalancer") or {}).get("ingress") or []
    addresses = [entry.get("ip") or entry.get("hostname") for entry in ingress if isinstance(entry, Mapping)]
    addresses = [address for address in addresses if address]
    external = [ip for ip in spec.get("externalIPs") or [] if ip]
    if spec.get("type") == "LoadBalancer":
        return ",".join(addresses + external) if addresses or external else "<pending>"
    if spec.get("type") == "ExternalName":
        return str(spec.get("externalName") or "<none>")
    return ",".join(external) if external else "<none>"


def _service_ports(spec: Obj) -> str:
    rendered = []
    for port in spec.get("ports") or []:
        protocol = port.get("protocol", "TCP")
        node_port = f":{port['nodePort']}" if port.get("nodePort") else ""
        rendered.append(f"{port.get('port')}{node_port}/{protocol}")
    return ",".join(rendered) if rendered else "<none>"


def _service_cells(obj: Obj, now: datetime.datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    selector = spec.get("selector") or {}
    return [
        _name(obj),
        spec.get("type", "ClusterIP"),
        spec.get("clusterIP") or "<none>",
        _service_external_ip(spec, status),
        _service_ports(spec),
        _created_age(obj, now),
        ",".join(f"{key}={value}" for key, value in sorted(selector.items())) or "<none>",
    ]


def _node_status(obj: Obj) -> str:
    conditions = (obj.get("status") or {}).get("conditions") or []
    ready = next((c.get("status") for c in conditions if isinstance(c, Mapping) and c.get("type") == "Ready"), None)
    status = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if (obj.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    return status


def _node_address(obj: Obj, kind: str) -> str:
    addresses = (obj.get("status") or {}).get("addresses") or []
    found = [a.get("address") for a in addresses if isinstance(a, Mapping) and a.get("type") == kind]
    return ",".join(address for address in found if address) or "<none>"


def _node_cells(obj: Obj, now: datetime.datetime) -> list[Any]:
    labels = _metadata(obj).get("labels") or {}
    roles = sorted(key.split("/", 1)[1] for key in labels
                   if key.startswith("node-role.kubernetes.io/") and key.split("/", 1)[1])
    return [
        _name(obj),
        _node_status(obj),
        ",".join(roles) or "<none>",
        _created_age(obj, now),
        ((obj.get("status") or {}).get("nodeInfo") or {}).get("kubeletVersion", ""),
        _node_address(obj, "InternalIP"),
        _node_address(obj, "ExternalIP"),
    ]


def _event_cells(obj: Obj, now: datetime.datetime) -> list[Any]:
    # core/v1 Events name the object in involvedObject; events.k8s.io/v1 in regarding.
    involved = obj.get("involvedObject") or obj.get("regarding") or {}
    last_seen = (obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp") or obj.get("eventTime")
                 or _metadata(obj).get("creationTimestamp"))
    return [
        _age(last_seen, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}",
        obj.get("message") or obj.get("note") or "",
    ]


def _namespace_cells(obj: Obj, now: datetime.datetime) -> list[Any]:
    return [_name(obj), (obj.get("status") or {}).get("phase", "Active"), _created_age(obj, now)]


def _deployment_cells(obj: Obj, now: datetime.datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    selector = (spec.get("selector") or {}).get("matchLabels") or {}
    return [
        _name(obj),
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        _created_age(obj, now),
        ",".join(str(c.get("name", "")) for c in containers if isinstance(c, Mapping)),
        ",".join(str(c.get("image", "")) for c in containers if isinstance(c, Mapping)),
        ",".join(f"{key}={value}" for key, value in sorted(selector.items())) or "<none>",
    ]


def _replica_set_cells(obj: Obj, now: datetime.datetime) -> list[Any]:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    return [_name(obj), spec.get("replicas", 1), status.get("replicas", 0), status.get("readyReplicas", 0),
            _created_age(obj, now)]


def _endpoint_slice_cells(obj: Obj, now: datetime.datetime) -> list[Any]:
    ports = [str(port.get("port")) for port in obj.get("ports") or [] if isinstance(port, Mapping)]
    addresses = [address for endpoint in obj.get("endpoints") or [] if isinstance(endpoint, Mapping)
                 for address in endpoint.get("addresses") or []]
    shown = ",".join(addresses[:3]) + (f" + {len(addresses) - 3} more..." if len(addresses) > 3 else "")
    return [_name(obj), obj.get("addressType", ""), ",".join(ports) or "<unset>", shown or "<unset>",
            _created_age(obj, now)]


def _default_cells(obj: Obj, now: datetime.datetime) -> list[Any]:
    return [_name(obj), _created_age(obj, now)]


_NAME = ("Name", "string", "Name must be unique within a namespace.", 0)
_AGE = ("Age", "string", "Time since the object was created.", 0)
_LAYOUTS: dict[tuple[str, str], tuple[list[Column], RowCells]] = {
    ("", "services"): ([
        _NAME,
        ("Type", "string", "The type of the service.", 0),
        ("Cluster-IP", "string", "The IP address of the service within the cluster.", 0),
        ("External-IP", "string", "External IP addresses or hostnames of the service.", 0),
        ("Port(s)", "string", "The ports the service exposes.", 0),
        _AGE,
        ("Selector", "string", "The label selector of the service.", 1),
    ], _service_cells),
    ("", "nodes"): ([
        _NAME,
        ("Status", "string", "The readiness of the node.", 0),
        ("Roles", "string", "The roles of the node.", 0),
        _AGE,
        ("Version", "string", "Kubelet version reported by the node.", 0),
        ("Internal-IP", "string", "The node's internal IP addresses.", 1),
        ("External-IP", "string", "The node's external IP addresses.", 1),
    ], _node_cells),
    ("", "events"): ([
        ("Last Seen", "string", "When the event was last observed.", 0),
        ("Type", "string", "Normal or Warning.", 0),
        ("Reason", "string", "Why the event was emitted.", 0),
        ("Object", "string", "The object the event is about.", 0),
        ("Message", "string", "A human-readable description.", 0),
    ], _event_cells),
    ("", "namespaces"): ([_NAME, ("Status", "string", "The phase of the namespace.", 0), _AGE], _namespace_cells),
    ("apps", "deployments"): ([
        _NAME,
        ("Ready", "string", "Number of the pod with ready state.", 0),
        ("Up-to-date", "integer", "Total number of non-terminated pods updated to the desired template.", 0),
        ("Available", "integer", "Total number of available pods (ready for at least minReadySeconds).", 0),
        _AGE,
        ("Containers", "string", "Names of each container in the template.", 1),
        ("Images", "string", "Images referenced by each container in the template.", 1),
        ("Selector", "string", "Label selector for pods.", 1),
    ], _deployment_cells),
    ("apps", "replicasets"): ([
        _NAME,
        ("Desired", "integer", "Number of desired pods.", 0),
        ("Current", "integer", "Number of actual replicas.", 0),
        ("Ready", "integer", "The number of ready replicas.", 0),
        _AGE,
    ], _replica_set_cells),
    ("discovery.k8s.io", "endpointslices"): ([
        _NAME,
        ("AddressType", "string", "The type of addresses in this slice.", 0),
        ("Ports", "string", "The ports of the endpoints.", 0),
        ("Endpoints", "string", "The addresses of the endpoints.", 0),
        _AGE,
    ], _endpoint_slice_cells),
}
_LAYOUTS[("events.k8s.io", "events")] = _LAYOUTS[("", "events")]
_DEFAULT_LAYOUT: tuple[list[Column], RowCells] = ([_NAME, _AGE], _default_cells)


def _row_object(obj: Obj, include_object: str) -> dict[str, Any] | None:
    if include_object == "None":
        return None
    if include_object == "Object":
        return dict(obj)
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": dict(_metadata(obj))}


def table(resource: ResourceType, objects: Sequence[Obj], resource_version: str, include_object: str = "Metadata",
          now: datetime.datetime | None = None) -> dict[str, Any]:
    """A meta.k8s.io/v1 Table of ``objects``; ``include_object`` is None, Metadata or Object."""
    columns, cells = _LAYOUTS.get((resource.group, resource.plural), _DEFAULT_LAYOUT)
    moment = now or datetime.datetime.now(datetime.UTC)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": cells(obj, moment)}
        row_object = _row_object(obj, include_object)
        if row_object is not None:
            row["object"] = row_object
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "columnDefinitions": [
            {"name": name, "type": kind, "format": "name" if name == "Name" else "", "description": description,
             "priority": priority}
            for name, kind, description, priority in columns
        ],
        "rows": rows,
    }
