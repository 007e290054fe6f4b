"""Decoding ``application/vnd.kubernetes.protobuf`` request bodies into the objects JSON would give.

The body is the ``k8s\\x00`` magic and a ``runtime.Unknown`` envelope whose ``raw``
is the object's message (field numbers: :mod:`cloudlb.kubeapi.protobuf_bundle`).
The Go encoder writes every non-pointer field, zero or not, where JSON omits
empty ones (``omitempty``), so zero scalars are dropped, except the few pointer
fields kubectl's generators set where a zero means something.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from cloudlb.kubeapi import errors
from cloudlb.kubeapi.protobuf_bundle import messages
from cloudlb.kubeapi.resources import ResourceType

MEDIA_TYPE = "application/vnd.kubernetes.protobuf"
_MAGIC = b"k8s\x00"
_UNKNOWN_RAW = 2
# Go pointer fields (zero is a value, not "unset") among those client-go's kubectl generators send.
_POINTER_FIELDS = frozenset({("k8s.io.api.apps.v1.DeploymentSpec", "replicas"),
                             ("k8s.io.api.core.v1.ServiceSpec", "allocateLoadBalancerNodePorts")})
_PACKAGES = {"": "k8s.io.api.core", "apps": "k8s.io.api.apps", "discovery.k8s.io": "k8s.io.api.discovery",
             "events.k8s.io": "k8s.io.api.events", "coordination.k8s.io": "k8s.io.api.coordination"}
_TIME_TYPES = ("k8s.io.apimachinery.pkg.apis.meta.v1.Time", "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime")


class _Malformed(Exception):
    pass


def _varint(data: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if position >= len(data) or shift > 63:
            raise _Malformed("truncated varint")
        byte = data[position]
        value |= (byte & 0x7F) << shift
        position += 1
        shift += 7
        if not byte & 0x80:
            return value, position


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, int value or bytes) for each field of one message."""
    found: list[tuple[int, int, Any]] = []
    position = 0
    while position < len(data):
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, position = _varint(data, position)
        elif wire == 2:
            length, position = _varint(data, position)
            value, position = data[position:position + length], position + length
            if len(value) != length:
                raise _Malformed("truncated field")
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, position = int.from_bytes(data[position:position + size], "little"), position + size
        else:
            raise _Malformed(f"unsupported wire type {wire}")
        found.append((number, wire, value))
    return found


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _scalar(kind: str, value: Any) -> Any:
    if kind == "string":
        return bytes(value).decode("utf-8")
    if kind == "bytes":
        return base64.b64encode(bytes(value)).decode()
    if kind == "bool":
        return bool(value)
    if kind == "sint":
        return (value >> 1) ^ -(value & 1)
    return _signed(int(value))


def _special(message: str, data: bytes) -> tuple[bool, Any]:
    """The k8s types whose JSON form is not their message's fields."""
    values = {number: value for number, _, value in _fields(data)}
    if message in _TIME_TYPES:
        seconds = _signed(values.get(1, 0))
        if not seconds and not values.get(2):
            return True, None
        moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
        if message.endswith("MicroTime"):
            return True, moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{values.get(2, 0) // 1000:06d}Z"
        return True, moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if message == "k8s.io.apimachinery.pkg.util.intstr.IntOrString":
        return True, bytes(values.get(3, b"")).decode() if values.get(1) == 1 else _signed(values.get(2, 0))
    if message == "k8s.io.apimachinery.pkg.api.resource.Quantity":
        return True, bytes(values.get(1, b"")).decode()
    if message in ("k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1", "k8s.io.apimachinery.pkg.runtime.RawExtension"):
        raw = bytes(values.get(1, b""))
        return True, json.loads(raw) if raw else None
    return False, None


def _message(name: str, data: bytes) -> Any:
    special, value = _special(name, data)
    if special:
        return value
    table = messages().get(name)
    if table is None:
        raise _Malformed(f"no field table for {name}")
    obj: dict[str, Any] = {}
    for number, _, raw in _fields(data):
        field = table.get(str(number))
        if field is None:
            raise _Malformed(f"{name} has no field {number}")
        key = field["name"]
        if field.get("map"):
            entry = _message(field["message"], raw)
            obj.setdefault(key, {})[entry.get("key", "")] = entry.get("value", "")
            continue
        value = _message(field["message"], raw) if "message" in field else _scalar(field["scalar"], raw)
        if field["repeated"]:
            obj.setdefault(key, []).append(value)
        elif value is not None and (value not in ("", 0) or (name, key) in _POINTER_FIELDS):
            obj[key] = value  # ("", 0) covers False: Go's JSON omits every zero but a set pointer's
    return obj


def decode(body: bytes, resource: ResourceType) -> dict[str, Any]:
    """The object a protobuf body carries, as JSON would have carried it."""
    if not body.startswith(_MAGIC):
        raise errors.bad_request("the protobuf body does not start with the Kubernetes magic number")
    message = f"{_PACKAGES.get(resource.group, '')}.{resource.version}.{resource.kind}"
    if resource.group not in _PACKAGES or message not in messages():
        raise errors.unsupported_media_type(("application/json", "application/yaml"))
    try:
        envelope = {number: value for number, _, value in _fields(body[len(_MAGIC):])}
        obj = _message(message, bytes(envelope.get(_UNKNOWN_RAW, b"")))
    except (_Malformed, UnicodeDecodeError, ValueError) as exc:
        raise errors.bad_request(f"the protobuf body cannot be decoded as {resource.kind}: {exc}") from exc
    obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
    return dict(obj)
