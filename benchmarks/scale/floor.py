"""What every floor script offers: the writes of each scenario, straight-line, no reads.

A floor script knows what it created from the answers to its own writes, so it never
needs to read. Its numbers are the least any controller can do; the controller's time
is reported as a ratio to the floor's, both measured on the same emulator in one run.
"""

from __future__ import annotations

from typing import Protocol

from cloudlb.sandbox_cloud import SandboxInstance

FLOOR_CLUSTER = "bench-floor"  # its own names and ownership marks: never the controller's


class Floor(Protocol):
    def create(self) -> None:
        """A load balancer for every Service, 2 TCP ports, backed by the initial nodes."""

    def add_node(self, instance: SandboxInstance) -> None: ...

    def remove_node(self, instance: SandboxInstance) -> None: ...

    def edit_port(self, name: str) -> None:
        """Move port 80 of Service ``name`` to 8080."""

    def delete_all(self) -> None:
        """Every load balancer and what it used, gone."""

    def close(self) -> None:
        """Remove what the script's own setup made (uncounted)."""
