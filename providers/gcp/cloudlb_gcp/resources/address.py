"""The load balancer's IP: a user's reserved address (used, never released) or one cloudlb reserves.

Reserving our own regional address keeps the IP stable while forwarding rules
are replaced, and lets TCP and UDP rules share it. It is released on delete,
or once the Service moves to a user's address (after the rules moved). An
address that no longer fits (the other scheme, another subnetwork or another
requested IP) is released and reserved anew, after the rules that use it went.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudlb.changes import Change
from cloudlb.provider import CloudStateError, PermanentError
from cloudlb_gcp.ownership import OwnerMark, read_mark
from cloudlb_gcp.resources.common import (
    Json,
    Kind,
    check_ours,
    create,
    delete,
    differences,
    labels_of,
    relative_link,
    update,
)

# Named in errors; the annotation itself is read by ``gke_annotations``.
NETWORK_TIER_ANNOTATION = "cloud.google.com/network-tier"


def ip_filter(ip: str) -> str:
    """The list ``filter`` that finds the reserved address holding ``ip``."""
    return f'address = "{ip}"'


@dataclass(frozen=True)
class AddressRecord:
    name: str
    mark: OwnerMark | None
    ip: str  # "" in a desired record: any free IP
    address_type: str
    subnetwork: str
    purpose: str
    labels: tuple[tuple[str, str], ...]
    label_fingerprint: str | None = field(default=None, compare=False)
    network_tier: str = ""  # PREMIUM or STANDARD for an external address; "" for an internal one
    ip_version: str = "IPV4"  # IPV6: a /96 of its subnetwork's IPv6 range (external ones too name the subnetwork)

    @property
    def ipv6(self) -> bool:
        return self.ip_version == "IPV6"

    @property
    def internal(self) -> bool:
        return self.address_type == "INTERNAL"


def parse(item: Json) -> AddressRecord:
    address_type = item.get("addressType", "EXTERNAL")
    return AddressRecord(
        name=item["name"], mark=read_mark(item.get("description", "")), ip=item.get("address", ""),
        address_type=address_type, subnetwork=relative_link(item.get("subnetwork", "")),
        purpose=item.get("purpose", ""), labels=labels_of(item), label_fingerprint=item.get("labelFingerprint"),
        # The API answers PREMIUM for an address reserved without a tier.
        network_tier="" if address_type == "INTERNAL" else item.get("networkTier") or "PREMIUM",
        ip_version=item.get("ipVersion") or "IPV4",
    )


def body(record: AddressRecord) -> Json:
    assert record.mark is not None
    sent: Json = {"name": record.name, "description": record.mark.description, "labels": dict(record.labels),
                  "addressType": record.address_type}
    if record.internal:
        sent.update(subnetwork=record.subnetwork, purpose=record.purpose)
    else:
        sent["networkTier"] = record.network_tier
    if record.ipv6:
        sent.update(ipVersion="IPV6", subnetwork=record.subnetwork)
        if not record.internal:
            sent["ipv6EndpointType"] = "NETLB"  # an address for a passthrough load balancer, not a VM
    if record.ip:
        sent["address"] = record.ip
    return sent


KIND: Kind[AddressRecord] = Kind("address", "addresses", "addresses", "regions", parse, body)


def desired(name: str, mark: OwnerMark, internal: bool, subnetwork: str | None, ip: str | None,
            network_tier: str = "PREMIUM", labels: Mapping[str, str] | None = None,
            ipv6: bool = False) -> AddressRecord:
    # TCP and UDP rules share the IP; internal IPv4 addresses must say so to be shared. An internal IPv6
    # address has one rule (L3_DEFAULT when it carries both protocols), as GKE builds it.
    return AddressRecord(name, mark, ip or "", "INTERNAL" if internal else "EXTERNAL",
                         (subnetwork or "") if internal or ipv6 else "",
                         "SHARED_LOADBALANCER_VIP" if internal and not ipv6 else "",
                         tuple(sorted((labels if labels is not None else mark.labels).items())),
                         network_tier="" if internal else network_tier, ip_version="IPV6" if ipv6 else "IPV4")


def fits(want: AddressRecord, have: AddressRecord) -> str:
    """Why ``have`` cannot serve as ``want`` (empty when it can): type, subnetwork and requested IP must match."""
    shape = dataclasses.replace(want, ip=want.ip or have.ip, labels=have.labels)
    return differences(shape, have)


@dataclass(frozen=True)
class AddressChanges:
    """Releasing a misfit comes after the rules on it went; reserving comes before the rules are created."""

    release_first: list[Change]
    reserve: list[Change]
    labels: list[Change]
    release_last: list[Change]


def changes(want: AddressRecord | None, have: AddressRecord | None, mark: OwnerMark) -> AddressChanges:
    result = AddressChanges([], [], [], [])
    if have is not None and have.mark != mark:
        if want is not None:
            check_ours(KIND, have, mark)
        return result
    if want is None:
        if have is not None:
            result.release_last.append(delete(KIND, have, "the load balancer serves on a reserved address of the user"))
        return result
    if have is None:
        result.reserve.append(create(KIND, want))
        return result
    misfit = fits(want, have)
    if misfit:
        result.release_first.append(delete(KIND, have, f"no longer fits: {misfit}"))
        result.reserve.append(create(KIND, want, f"replaces the address with {misfit}"))
    elif want.labels != have.labels:
        labelled = dataclasses.replace(have, labels=want.labels)
        result.labels.append(update(KIND, labelled, differences(labelled, have), verb="setLabels"))
    return result


def use_reserved(address: AddressRecord, internal: bool, mark: OwnerMark, network_tier: str = "") -> str:
    """The IP of a user's reserved address, which must fit the load balancer and not be cloudlb's for another owner.

    cloudlb releases its own address when its Service goes; rules built on it by another Service would
    make that release fail for ever (resourceInUseByAnotherResource) and keep the owner's finalizer.
    """
    owner = address.mark
    if owner is not None and owner != mark:
        whose = f"Service {owner.service} of cluster {owner.cluster}" if owner.service else f"cluster {owner.cluster}"
        raise PermanentError(f"reserved address {address.name} ({address.ip}) is cloudlb's address for {whose}; "
                             f"Service {mark.service} cannot use it")
    if address.internal != internal:
        raise PermanentError(f"reserved address {address.name} is {address.address_type}; this load balancer "
                             f"needs {'INTERNAL' if internal else 'EXTERNAL'}")
    if not internal and network_tier and address.network_tier and address.network_tier != network_tier:
        # As upstream: a reserved IP's tier cannot change, and a forwarding rule must be in its address's tier.
        raise PermanentError(
            f"reserved address {address.name} ({address.ip}) belongs to the {address.network_tier} network tier; "
            f"the Service asks for {network_tier} (annotation {NETWORK_TIER_ANNOTATION}, default Premium)",
            code="NetworkTierMismatch")
    return address.ip


def missing(name: str, region: str) -> CloudStateError:
    """A named address that does not exist may be reserved later: retried slowly, not waiting for an edit."""
    return CloudStateError(f"reserved address {name} does not exist in {region} (yet)")
