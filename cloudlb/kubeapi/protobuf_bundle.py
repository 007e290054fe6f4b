"""The protobuf field tables of the served kinds, extracted from k8s.io/api's compiled descriptors.

client-go's generated clients send built-in kinds as protobuf (``kubectl create
service``, ``create deployment``, ``create namespace``, ``expose``) and do not fall
back to JSON on a 415, so the emulator decodes protobuf. The field numbers come
from k8s.io/api's ``generated.proto`` files as compiled into the kubectl binary
(every Go program using client-go registers them, gzipped); ``python -m
cloudlb.kubeapi.protobuf_bundle [path/to/kubectl]`` extracts the messages the
served kinds reach into ``protobuf_messages.json`` (needs the ``protobuf``
package, a dev dependency), and a test checks the table against the kubectl in use.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import sys
import zlib
from pathlib import Path
from typing import Any

BUNDLE_PATH = Path(__file__).with_name("protobuf_messages.json")
ROOT_MESSAGES = (
    "k8s.io.api.core.v1.Service", "k8s.io.api.core.v1.Namespace", "k8s.io.api.core.v1.Node",
    "k8s.io.api.core.v1.Event", "k8s.io.api.core.v1.Endpoints", "k8s.io.api.apps.v1.Deployment",
    "k8s.io.api.apps.v1.ReplicaSet", "k8s.io.api.discovery.v1.EndpointSlice", "k8s.io.api.events.v1.Event",
    "k8s.io.api.coordination.v1.Lease",
)
_GZIP_MAGIC = re.compile(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00")
_SCALARS = {1: "double", 2: "float", 3: "int", 4: "int", 5: "int", 8: "bool", 9: "string", 12: "bytes",
            13: "int", 17: "sint", 18: "sint"}
_MESSAGE, _REPEATED = 11, 3


def _descriptors(binary: bytes) -> dict[str, Any]:
    """Every k8s.io message descriptor in a Go binary, by full name."""
    from google.protobuf import descriptor_pb2  # type: ignore[import-untyped]  # noqa: PLC0415 - dev-only

    messages: dict[str, Any] = {}

    def collect(prefix: str, message: Any) -> None:
        name = f"{prefix}.{message.name}"
        messages[name] = message
        for nested in message.nested_type:
            collect(name, nested)

    for match in _GZIP_MAGIC.finditer(binary):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(binary[match.start():match.start() + 4_000_000])
            file = descriptor_pb2.FileDescriptorProto.FromString(raw)
        except Exception:
            continue
        if file.package.startswith("k8s.io"):
            for message in file.message_type:
                collect(file.package, message)
    return messages


def build_bundle(binary: bytes) -> dict[str, Any]:
    descriptors = _descriptors(binary)
    table: dict[str, Any] = {}
    pending = list(ROOT_MESSAGES)
    while pending:
        name = pending.pop()
        if name in table:
            continue
        message = descriptors[name]
        fields: dict[str, Any] = {}
        for field in message.field:
            entry: dict[str, Any] = {"name": field.name, "repeated": field.label == _REPEATED}
            if field.type == _MESSAGE:
                target = field.type_name.lstrip(".")
                entry["message"] = target
                if descriptors[target].options.map_entry:
                    entry["map"] = True
                pending.append(target)
            else:
                entry["scalar"] = _SCALARS[field.type]
            fields[str(field.number)] = entry
        table[name] = fields
    return {"source": "k8s.io/api generated.proto, compiled into kubectl", "messages": dict(sorted(table.items()))}


@functools.cache
def messages() -> dict[str, dict[str, dict[str, Any]]]:
    found: dict[str, dict[str, dict[str, Any]]] = json.loads(BUNDLE_PATH.read_text(encoding="utf-8"))["messages"]
    return found


def main(argv: list[str]) -> int:
    kubectl = argv[0] if argv else shutil.which("kubectl")
    if not kubectl:
        raise SystemExit("give the path of a kubectl binary")
    BUNDLE_PATH.write_text(json.dumps(build_bundle(Path(kubectl).read_bytes()), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {BUNDLE_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
