"""Project and region from the GCE metadata server, for a controller running inside GCP.

Only used when ``--gcp-project`` / ``--gcp-region`` are not given; never in tests.
"""

from __future__ import annotations

import urllib.request

METADATA_URL = "http://metadata.google.internal/computeMetadata/v1/"
TIMEOUT = 5.0


class MetadataUnavailable(RuntimeError):
    pass


def _read(path: str) -> str:
    request = urllib.request.Request(METADATA_URL + path, headers={"Metadata-Flavor": "Google"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return str(response.read().decode()).strip()
    except OSError as exc:  # URLError is an OSError: not on a GCE VM, or the metadata server is blocked
        raise MetadataUnavailable(
            f"the GCE metadata server did not answer ({exc}); outside GCP, give --gcp-project and --gcp-region"
        ) from exc


def region_of_zone(zone: str) -> str:
    """``us-central1-a`` → ``us-central1``."""
    return zone.rsplit("-", 1)[0]


def discover_project() -> str:
    return _read("project/project-id")


def discover_region() -> str:
    # The instance's zone comes back as ``projects/NUMBER/zones/ZONE``.
    return region_of_zone(_read("instance/zone").rsplit("/", 1)[1])
