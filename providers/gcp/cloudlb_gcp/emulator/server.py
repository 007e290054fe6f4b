"""``GCEEmulator``: the emulated Compute API as a real HTTP server on 127.0.0.1, with seeding and test controls."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from http.server import ThreadingHTTPServer
from types import TracebackType

from google.cloud import compute_v1

from cloudlb_gcp.emulator import rules
from cloudlb_gcp.emulator.cloud import ComputeCloud, Fault, LoggedCall
from cloudlb_gcp.emulator.http import ComputeHandler
from cloudlb_gcp.emulator.paths import LINK_BASE, ResourcePath


class GCEEmulator:
    """A Compute v1 endpoint for one project and region; ``url`` is what clients take as ``api_endpoint``."""

    def __init__(self, project: str = "cloudlb-test", region: str = "us-central1",
                 host: str = "127.0.0.1", port: int = 0, operation_polls: int = 1, page_size: int = 500) -> None:
        """``operation_polls``: the poll (get or wait) on which an operation is first DONE;
        ``page_size``: the most items a list page holds (the API's own cap is 500)."""
        self.project = project
        self.region = region
        self.cloud = ComputeCloud(project, region)
        self.cloud.operations.polls_until_done = operation_polls
        self.cloud.page_size = page_size
        handler = type("BoundComputeHandler", (ComputeHandler,), {"cloud": self.cloud})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self._dual_stacks = 0

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GCEEmulator:
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="gce-emulator", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> GCEEmulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- seeding --------------------------------------------------------------------------------------------

    def link(self, relative: str) -> str:
        return f"{LINK_BASE}projects/{self.project}/{relative}"

    def add_network(self, name: str = "default") -> compute_v1.Network:
        network = compute_v1.Network(name=name, auto_create_subnetworks=False)
        return self.cloud.seed("networks", "", network)  # type: ignore[no-any-return]

    def add_subnetwork(self, name: str = "default", network: str = "default", cidr: str = "10.128.0.0/20",
                       ipv6_access_type: str | None = None, ipv6_cidr: str = "") -> compute_v1.Subnetwork:
        """``ipv6_access_type`` ``EXTERNAL`` or ``INTERNAL`` makes it dual-stack (``IPV4_IPV6``), with
        ``ipv6_cidr`` (a /64; one is chosen when not given) as its external prefix or internal range."""
        subnet = compute_v1.Subnetwork(name=name, network=self.link(f"global/networks/{network}"),
                                       ip_cidr_range=cidr, stack_type="IPV4_ONLY")
        if ipv6_access_type is not None:
            self._dual_stacks += 1
            prefix = ipv6_cidr or (f"2600:1900:4000:{self._dual_stacks:x}::/64" if ipv6_access_type == "EXTERNAL"
                                   else f"fd20:0:0:{self._dual_stacks:x}::/64")
            subnet.stack_type, subnet.ipv6_access_type = "IPV4_IPV6", ipv6_access_type
            if ipv6_access_type == "EXTERNAL":
                subnet.external_ipv6_prefix = prefix
            else:
                subnet.ipv6_cidr_range = prefix
        return self.cloud.seed("subnetworks", self.region, subnet)  # type: ignore[no-any-return]

    def add_instance(self, zone: str, name: str, ip: str, network: str = "default",
                     subnetwork: str = "default", tags: Sequence[str] = ("k8s-node",)) -> compute_v1.Instance:
        nic = compute_v1.NetworkInterface(
            name="nic0", network=self.link(f"global/networks/{network}"),
            subnetwork=self.link(f"regions/{self.region}/subnetworks/{subnetwork}"), network_i_p=ip,
        )
        instance = compute_v1.Instance(name=name, status="RUNNING", network_interfaces=[nic],
                                       tags=compute_v1.Tags(items=list(tags)))
        return self.cloud.seed("instances", zone, instance)  # type: ignore[no-any-return]

    def add_address(self, name: str, address_type: str = "EXTERNAL", subnetwork: str | None = None,
                    ip: str | None = None, network_tier: str = "") -> compute_v1.Address:
        """A user's reserved address, as made outside cloudlb (no ownership mark)."""
        address = compute_v1.Address(name=name, address_type=address_type, address=ip or "",
                                     network_tier=network_tier)
        if subnetwork:
            address.subnetwork = self.link(f"regions/{self.region}/subnetworks/{subnetwork}")
        path = ResourcePath(self.project, "regions", self.region, "addresses", name)
        with self.cloud.lock:
            rules.check_address(self.cloud.store, path, address)
            return self.cloud.seed("addresses", self.region, address)  # type: ignore[no-any-return]

    # -- test controls --------------------------------------------------------------------------------------

    def fail(self, method: str, nth: int = 1, status: int = 503, times: int = 1, *, reason: str | None = None,
             operation_error: str | None = None, lose_response: bool = False) -> None:
        """Make the ``nth`` coming call of ``method`` (e.g. ``"forwardingRules.insert"``) fail, and the
        ``times - 1`` calls after it too: refused with ``status`` and ``reason`` (default ``backendError``
        for 5xx) before anything changes; or, with ``operation_error`` (e.g. ``"QUOTA_EXCEEDED"``),
        accepted without any change and its operation ending DONE with that error; or, with
        ``lose_response``, carried out and answered with the error, as when a response is lost."""
        self.cloud.fail(Fault(method, nth, status, times, reason, operation_error, lose_response))

    def clear_faults(self) -> None:
        self.cloud.clear_faults()

    @property
    def requests(self) -> list[LoggedCall]:
        with self.cloud.lock:
            return list(self.cloud.log)

    def clear_requests(self) -> None:
        with self.cloud.lock:
            self.cloud.log.clear()

    def leftovers(self) -> list[str]:
        """Every load-balancing resource stored, as ``collection/name``."""
        return self.cloud.leftovers()

    def resources(self) -> list[str]:
        """Everything stored, seeded or created, as ``collection/[location/]name``."""
        with self.cloud.lock:
            return [p.listed for p in self.cloud.store.all_paths()]

    def members(self, zone: str, group: str) -> list[str]:
        """Instance names in an instance group (empty when the group does not exist)."""
        path = ResourcePath(self.project, "zones", zone, "instanceGroups", group)
        with self.cloud.lock:
            return sorted(link.rsplit("/", 1)[1] for link in self.cloud.members.get(path, []))
