"""What every resource module shares: the kind of a resource, its records, links, and readable differences.

Each kind is observed as a *record*: a frozen value holding exactly the
fields cloudlb manages, normalized (links relative to the API root, lists
sorted), so that a record parsed from a listing equals the record cloudlb
wrote when nothing changed. A plan compares the desired record with the
observed one; the inventory stores the desired record once it is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from cloudlb.changes import Action, Change
from cloudlb.provider import NotOwnedError
from cloudlb_gcp.ownership import OwnerMark

Json = dict[str, Any]
# Where a record needs the IP of an address that a change earlier in the same plan creates (IPv4, IPv6).
NEW_ADDRESS_IP = "<new address>"
NEW_ADDRESS_IP6 = "<new IPv6 address>"
NEW_ADDRESS_IPS = (NEW_ADDRESS_IP, NEW_ADDRESS_IP6)


class Record(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def mark(self) -> OwnerMark | None: ...


R = TypeVar("R", bound=Record)


@dataclass(frozen=True, eq=False)
class Kind(Generic[R]):
    """One resource type: its name in plans, in the API's methods and URLs, and how a listed item is read."""

    resource: str  # in a Change: "forwarding-rule"
    api: str  # method and permission prefix: "regionBackendServices"
    collection: str  # in URLs: "backendServices"
    scope: str  # "regions", "global" or "zones"
    parse: Callable[[Json], R]
    body: Callable[[R], Json]  # the request body that creates (or patches) it

    def method(self, verb: str) -> str:
        return f"{self.api}.{verb}"

    @property
    def noun(self) -> str:
        """``forwarding rule``: for messages."""
        return self.resource.replace("-", " ")

    @property
    def plural(self) -> str:
        return self.noun + ("es" if self.noun.endswith("s") else "s")

    def __repr__(self) -> str:
        return self.resource


@dataclass(frozen=True)
class Write(Generic[R]):
    """The private payload of a change to one resource: the verb and the record it writes (or deletes)."""

    kind: Kind[R]
    verb: str  # "insert", "patch", "delete" or "setLabels"
    record: R
    zone: str = ""  # for zonal resources


def relative_link(link: str) -> str:
    """A Compute URL as ``projects/...``, so that links compare equal however they were written."""
    return "projects/" + link.split("projects/", 1)[1] if "projects/" in link else link


def labels_of(item: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((item.get("labels") or {}).items()))


def differences(want: Any, have: Any, ignore: tuple[str, ...] = ()) -> str:
    """``field: old -> new`` for each compared field that differs (names and marks are not compared)."""
    parts = []
    for field in dataclasses.fields(want):
        if not field.compare or field.name in ("name", "mark", *ignore):
            continue
        old, new = getattr(have, field.name), getattr(want, field.name)
        if old != new:
            parts.append(f"{field.name.replace('_', ' ')}: {_shown(old)} -> {_shown(new)}")
    return "; ".join(parts)


def _shown(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    if isinstance(value, str):
        return relative_link(value).rsplit("/", 1)[-1] if value.startswith(("projects/", "https://")) else value
    return str(value)


def check_ours(kind: Kind[Any], record: Record, mark: OwnerMark) -> None:
    """Never plan a change to a resource that carries someone else's mark, or none."""
    if record.mark != mark:
        raise NotOwnedError(f"{kind.noun} {record.name}")


def create(kind: Kind[R], want: R, reason: str = "missing", zone: str = "") -> Change:
    return Change(Action.CREATE, kind.resource, _named(want, zone), reason, Write(kind, "insert", want, zone))


def update(kind: Kind[R], want: R, reason: str, verb: str = "patch", zone: str = "") -> Change:
    return Change(Action.UPDATE, kind.resource, _named(want, zone), reason, Write(kind, verb, want, zone))


def delete(kind: Kind[R], have: R, reason: str, zone: str = "") -> Change:
    return Change(Action.DELETE, kind.resource, _named(have, zone), reason, Write(kind, "delete", have, zone))


def _named(record: Record, zone: str) -> str:
    return f"{zone}/{record.name}" if zone else record.name


def converge(kind: Kind[R], want: R | None, have: R | None, mark: OwnerMark, *,
             unwanted: str = "not wanted") -> list[Change]:
    """The changes of a resource that can be patched in place: create, patch or delete it."""
    if have is not None and have.mark != mark:
        if want is not None:
            check_ours(kind, have, mark)
        return []
    if want is None:
        return [delete(kind, have, unwanted)] if have is not None else []
    if have is None:
        return [create(kind, want)]
    reason = differences(want, have)
    return [update(kind, want, reason)] if reason else []
