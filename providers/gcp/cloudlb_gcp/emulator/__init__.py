"""A GCE L4 emulator: the Compute v1 REST paths passthrough load balancing uses, as a real HTTP server."""

from cloudlb_gcp.emulator.cloud import LoggedCall
from cloudlb_gcp.emulator.server import GCEEmulator

__all__ = ["GCEEmulator", "LoggedCall"]
