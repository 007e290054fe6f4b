"""``python -m cloudlb.kubeapi --port N --kubeconfig PATH``: run the emulated API server until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from cloudlb.kubeapi.cluster import REQUEST_LOG_SIZE, EmulatedKubernetes
from cloudlb.kubeapi.store import EVENT_TTL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudlb.kubeapi", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--kubeconfig", default=None, help="where to write a kubeconfig for kubectl")
    parser.add_argument("--request-log-size", type=int, default=REQUEST_LOG_SIZE,
                        help="how many requests the in-memory request log keeps")
    parser.add_argument("--event-ttl", type=float, default=EVENT_TTL,
                        help="seconds an Event lives after its last write (kube-apiserver's --event-ttl)")
    args = parser.parse_args(argv)

    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    with EmulatedKubernetes(host=args.host, port=args.port, request_log_size=args.request_log_size,
                            event_ttl=args.event_ttl) as kube:
        print(f"Emulated Kubernetes API at {kube.url}", flush=True)
        if args.kubeconfig:
            path = kube.write_kubeconfig(args.kubeconfig)
            print(f"kubeconfig: {path}", flush=True)
        while not stop.wait(0.5):
            pass
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
