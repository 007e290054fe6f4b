"""The emulated cloud behind a fault proxy, in a process of its own.

``python -m benchmarks.chaos.cloud_host --provider aws --nodes 3 --cluster chaos --seed 1 --fault-rate 0.1``
starts the provider's sandbox cloud (moto's server, or the GCE emulator), puts a
:class:`~benchmarks.chaos.cloud_faults.FaultyDoor` in front of it, prints one JSON line
(the emulator's own endpoint for inspection, the door's for the controller, instances,
options, environment), then answers one JSON line per command read from stdin until stdin
closes:

    {"op": "stats"}                       -> {"requests": {...}, "faults": {...}, "writes": n, "in_flight": n}
    {"op": "writes", "offset": n}         -> [[monotonic time, operation, fault, text], ...]
    {"op": "rate", "value": 0.1}          -> null   (the fraction of requests that fail from now on)
    {"op": "add_instances", "count": 1}   -> [{"name": ..., "provider_id": ..., ...}]
    {"op": "leftovers"}                   -> ["load balancer cl-...", ...]

A process of its own keeps the cloud's CPU and GIL apart from the controller's and the run's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from benchmarks.chaos.cloud_faults import FaultyDoor
from cloudlb.sandbox_cloud import SandboxCloud, SandboxInstance


def start_cloud(provider: str, nodes: int, cluster: str) -> SandboxCloud:
    if provider == "aws":
        from cloudlb_aws.sandbox import MotoSandbox  # noqa: PLC0415 - each provider's emulator only when asked

        from benchmarks.chaos import moto_fidelity  # noqa: PLC0415

        moto_fidelity.apply()
        return MotoSandbox(nodes, cluster)
    from cloudlb_gcp.sandbox import start_sandbox  # noqa: PLC0415

    return start_sandbox(nodes, cluster)


def add_instances(cloud: SandboxCloud, count: int) -> list[SandboxInstance]:
    from cloudlb_aws.sandbox import MotoSandbox  # noqa: PLC0415

    if isinstance(cloud, MotoSandbox):
        return cloud.add_instances(count)
    from cloudlb_gcp.sandbox import ZONES, GCPSandbox  # noqa: PLC0415

    assert isinstance(cloud, GCPSandbox)
    emulator = cloud.emulator
    added = []
    for _ in range(count):
        index = len(cloud.instances)
        zone = f"{emulator.region}-{ZONES[index % len(ZONES)]}"
        name, ip = f"node-{index + 1}", f"10.128.1.{index + 2}"
        emulator.add_instance(zone, name, ip)
        added.append(SandboxInstance(name=name, provider_id=f"gce://{emulator.project}/{zone}/{name}",
                                     zone=zone, internal_ip=ip))
        cloud.instances = (*cloud.instances, added[-1])
    return added


def facts(cloud: SandboxCloud) -> dict[str, Any]:
    """What planting foreign resources needs to know about the emulated account."""
    from cloudlb_aws.sandbox import MotoSandbox  # noqa: PLC0415

    if isinstance(cloud, MotoSandbox):
        return {"vpc_id": cloud.vpc_id, "public_subnets": sorted(cloud.public_subnets.values()),
                "node_group_id": cloud.node_group_id}
    from cloudlb_gcp.sandbox import GCPSandbox  # noqa: PLC0415

    assert isinstance(cloud, GCPSandbox)
    return {"project": cloud.emulator.project, "region": cloud.emulator.region}


def answer(command: dict[str, Any], cloud: SandboxCloud, door: FaultyDoor) -> Any:
    def stats() -> dict[str, Any]:
        return {"requests": dict(door.requests), "faults": dict(door.faults), "write_faults": dict(door.write_faults),
                "writes": len(door.writes), "in_flight": door.in_flight_writes}

    operations: dict[str, Callable[[], Any]] = {
        "stats": stats,
        "writes": lambda: [[w.at, w.operation, w.fault, w.text] for w in door.writes_since(int(command["offset"]))],
        "rate": lambda: door.set_rate(float(command["value"])),
        "add_instances": lambda: [vars(i) for i in add_instances(cloud, int(command["count"]))],
        "leftovers": lambda: list(cloud.leftovers()),
    }
    return operations[command["op"]]()


def serve(cloud: SandboxCloud, door: FaultyDoor, commands: TextIO, out: TextIO) -> None:
    endpoint = cloud.endpoint
    out.write(json.dumps({
        "endpoint": endpoint, "door": door.url,
        "instances": [vars(i) for i in cloud.instances],
        "options": {key: value.replace(endpoint, door.url) for key, value in cloud.options.items()},
        "environment": {key: value.replace(endpoint, door.url) for key, value in cloud.environment.items()},
        "facts": facts(cloud),
    }) + "\n")
    out.flush()
    for line in commands:
        try:
            reply: dict[str, Any] = {"result": answer(json.loads(line), cloud, door)}
        except Exception as error:  # a bad command is answered, the cloud keeps running
            reply = {"error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos.cloud_host", description=__doc__)
    parser.add_argument("--provider", choices=("aws", "gcp"), required=True)
    parser.add_argument("--nodes", type=int, required=True)
    parser.add_argument("--cluster", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--fault-rate", type=float, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    out = os.fdopen(os.dup(1), "w")  # replies own stdout; anything a library prints goes to stderr
    os.dup2(2, 1)
    cloud = start_cloud(args.provider, args.nodes, args.cluster)
    door = FaultyDoor(cloud.endpoint, args.provider, args.seed, args.fault_rate)
    try:
        serve(cloud, door, sys.stdin, out)
    finally:
        door.close()
        cloud.close()


if __name__ == "__main__":
    main()
