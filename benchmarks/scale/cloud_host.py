"""The emulated cloud in a process of its own, with a counting door per client.

``python -m benchmarks.scale.cloud_host --provider aws --nodes 4 --cluster bench`` starts
the provider's sandbox cloud (moto's server, or the GCE emulator), opens the doors
``controller`` and ``floor`` in front of it, prints one JSON line (endpoints, instances,
options and environment with the controller's door as endpoint, seed facts), then answers
one JSON line per command read from stdin until stdin closes:

    {"op": "counts", "door": "controller"}      -> {"calls": [[operation, kind, n], ...], "last": t}
    {"op": "leftovers"}                         -> ["load balancer cl-...", ...]
    {"op": "backends", "provider_ids": [...]}   -> {"groups": n, "mismatched": [...]}
    {"op": "frontend_ports", "namespace": ..., "name": ...} -> [443, 8080]

A process of its own keeps the cloud's CPU and GIL apart from the benchmark's and the controller's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from benchmarks.scale.classify import CLASSIFIERS
from benchmarks.scale.counting import CountingDoor
from benchmarks.scale.inspection import Inspector, start_inspector

DOORS = ("controller", "floor")


def _through(door: str, values: Mapping[str, str], endpoint: str) -> dict[str, str]:
    return {key: value.replace(endpoint, door) for key, value in values.items()}


def hello(inspector: Inspector, doors: Mapping[str, CountingDoor]) -> dict[str, Any]:
    cloud = inspector.cloud
    controller = doors["controller"].url
    return {
        "endpoint": cloud.endpoint,
        "doors": {name: door.url for name, door in doors.items()},
        "instances": [vars(i) for i in cloud.instances],
        "options": _through(controller, cloud.options, cloud.endpoint),
        "environment": _through(controller, cloud.environment, cloud.endpoint),
        "facts": inspector.facts(),
    }


def answer(command: dict[str, Any], inspector: Inspector, doors: Mapping[str, CountingDoor]) -> Any:
    operations: dict[str, Callable[[], Any]] = {
        "counts": lambda: _counts(doors[command["door"]]),
        "leftovers": lambda: list(inspector.cloud.leftovers()),
        "backends": lambda: inspector.backends(command["provider_ids"]),
        "frontend_ports": lambda: inspector.frontend_ports(command["namespace"], command["name"]),
    }
    return operations[command["op"]]()


def _counts(door: CountingDoor) -> dict[str, Any]:
    counts = door.counts()
    return {"calls": [[call.operation, call.kind, n] for call, n in sorted(counts.calls.items())],
            "last": counts.last_answered}


def serve(inspector: Inspector, doors: Mapping[str, CountingDoor], commands: TextIO, out: TextIO) -> None:
    out.write(json.dumps(hello(inspector, doors)) + "\n")
    out.flush()
    for line in commands:
        try:
            reply: dict[str, Any] = {"result": answer(json.loads(line), inspector, doors)}
        except Exception as error:  # a bad command is answered, the cloud keeps running
            reply = {"error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale.cloud_host", description=__doc__)
    parser.add_argument("--provider", choices=sorted(CLASSIFIERS), required=True)
    parser.add_argument("--nodes", type=int, required=True, help="instances to seed")
    parser.add_argument("--cluster", required=True, help="the controller's cluster name")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    # Replies own stdout; anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    inspector = start_inspector(args.provider, args.nodes, args.cluster)
    doors = {name: CountingDoor(inspector.cloud.endpoint, CLASSIFIERS[args.provider]) for name in DOORS}
    try:
        serve(inspector, doors, sys.stdin, out)
    finally:
        for door in doors.values():
            door.close()
        inspector.cloud.close()


if __name__ == "__main__":
    main()
