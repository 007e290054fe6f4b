"""``python -m cloudlb_gcp.emulator --port N``: serve an emulated Compute API until interrupted."""

from __future__ import annotations

import argparse
import threading

from cloudlb_gcp.emulator.server import GCEEmulator
from cloudlb_gcp.sandbox import seed_cluster


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--project", default="cloudlb-test")
    parser.add_argument("--region", default="us-central1")
    parser.add_argument("--nodes", type=int, default=0, help="seed this many instances over two zones")
    args = parser.parse_args(argv)
    emulator = GCEEmulator(project=args.project, region=args.region, port=args.port)
    for instance in seed_cluster(emulator, args.nodes):
        print(f"instance {instance.provider_id} {instance.internal_ip}", flush=True)
    emulator.start()
    print(f"GCE emulator for project {args.project}, region {args.region} at {emulator.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
