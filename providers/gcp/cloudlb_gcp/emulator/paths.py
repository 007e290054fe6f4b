"""Resource paths and links as the Compute API writes and accepts them.

The API accepts a reference as a full URL, as ``projects/P/...`` or as a path
relative to the project (``regions/R/healthChecks/X``); it always answers with
full ``selfLink`` URLs. Everything in the emulator is keyed by the relative
path ``projects/P/<scope>/<collection>/<name>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cloudlb_gcp.emulator.errors import invalid

LINK_BASE = "https://www.googleapis.com/compute/v1/"
NAME_PATTERN = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, order=True)
class ResourcePath:
    """Where a resource lives: ``scope`` is ``global``, ``regions`` or ``zones``; ``location`` the region or zone."""

    project: str
    scope: str
    location: str
    collection: str
    name: str

    @property
    def where(self) -> str:
        """``global``, ``regions/R`` or ``zones/Z``: the part of a path that names the scope."""
        return "global" if self.scope == "global" else f"{self.scope}/{self.location}"

    @property
    def relative(self) -> str:
        return f"projects/{self.project}/{self.where}/{self.collection}/{self.name}"

    @property
    def link(self) -> str:
        return LINK_BASE + self.relative

    @property
    def listed(self) -> str:
        """``collection/[location/]name``, as the emulator lists what it stores."""
        return f"{self.collection}/{self.location + '/' if self.location else ''}{self.name}"

    def scope_link(self) -> str:
        return f"{LINK_BASE}projects/{self.project}/{self.where}"

    def __str__(self) -> str:
        return self.relative


_REFERENCE = re.compile(
    r"^projects/(?P<project>[^/]+)/(?:global|(?P<scope>regions|zones)/(?P<location>[^/]+))"
    r"/(?P<collection>[A-Za-z]+)/(?P<name>[^/]+)$"
)


def parse_reference(link: str, project: str) -> ResourcePath:
    """A reference in any form the API accepts, as a ``ResourcePath``; 400 when it is not one."""
    text = link
    if "/compute/v1/" in text:
        text = text.split("/compute/v1/", 1)[1]
    if not text.startswith("projects/"):
        text = f"projects/{project}/{text}"
    match = _REFERENCE.match(text)
    if not match:
        raise invalid(f"Invalid value for field 'resource': '{link}'. The URL is malformed.")
    return ResourcePath(
        project=match["project"],
        scope=match["scope"] or "global",
        location=match["location"] or "",
        collection=match["collection"],
        name=match["name"],
    )


def check_name(name: str, field: str = "resource.name") -> None:
    if not NAME_PATTERN.match(name or ""):
        raise invalid(
            f"Invalid value for field '{field}': '{name}'. "
            "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'"
        )
