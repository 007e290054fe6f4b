"""The load balancer's IP: a user's reserved address (used, never released) or one cloudlb reserves.

Reserving our own regional address keeps the IP stable while forwarding rules
are replaced, and lets TCP and UDP rules share it. It is released on delete.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.cloud import compute_v1

from cloudlb.provider import PermanentError, RetryLater
from cloudlb_gcp.compute import READ_RETRY, REQUEST_TIMEOUT, Compute
from cloudlb_gcp.instances import relative_link
from cloudlb_gcp.ownership import OwnerMark, is_owned, read_mark, require_owned
from cloudlb_gcp.resources.calls import delete, read, write


@dataclass(frozen=True)
class ChosenAddress:
    ip: str
    ours: bool  # False: the user's reserved address, never modified or released


def _get(compute: Compute, name: str) -> compute_v1.Address | None:
    return read(f"reading address {name}", lambda: compute.addresses.get(
        address=name, retry=READ_RETRY, timeout=REQUEST_TIMEOUT, **compute.in_region))


def _fits(address: compute_v1.Address, internal: bool) -> bool:
    return (address.address_type or "EXTERNAL") == ("INTERNAL" if internal else "EXTERNAL")


def users_address(compute: Compute, name: str, internal: bool, mark: OwnerMark) -> ChosenAddress:
    """A reserved address the Service names in ``networking.gke.io/load-balancer-ip-addresses``."""
    address = _get(compute, name)
    if address is None:
        raise RetryLater(f"reserved address {name} does not exist in {compute.region} (yet)", delay=60)
    return use_reserved(address, internal, mark)


def use_reserved(address: compute_v1.Address, internal: bool, mark: OwnerMark) -> ChosenAddress:
    """A user's reserved address, which must be of the load balancer's type and not cloudlb's for another owner.

    cloudlb releases its own address when its Service goes; rules built on it by another Service would
    make that release fail for ever (resourceInUseByAnotherResource) and keep the owner's finalizer.
    """
    refuse_anothers(address, mark)
    if not _fits(address, internal):
        raise PermanentError(f"reserved address {address.name} is {address.address_type}; this load balancer "
                             f"needs {'INTERNAL' if internal else 'EXTERNAL'}")
    return ChosenAddress(address.address, ours=False)


def refuse_anothers(address: compute_v1.Address, mark: OwnerMark) -> None:
    """Raise PermanentError when the address carries cloudlb's mark for another Service or cluster."""
    owner = read_mark(address.description)
    if owner is None or owner == mark:
        return
    whose = f"Service {owner.service} of cluster {owner.cluster}" if owner.service else f"cluster {owner.cluster}"
    raise PermanentError(f"reserved address {address.name} ({address.address}) is cloudlb's address for {whose}; "
                         f"Service {mark.service} cannot use it")


def reserved_with_ip(compute: Compute, ip: str) -> compute_v1.Address | None:
    """The reserved address in the region that holds ``ip``, if any (for ``spec.loadBalancerIP``)."""
    found = read("listing addresses", lambda: list(compute.addresses.list(
        retry=READ_RETRY, timeout=REQUEST_TIMEOUT, **compute.in_region)))
    return next((a for a in found or () if a.address == ip), None)


def own_address(compute: Compute, name: str) -> compute_v1.Address | None:
    return _get(compute, name)


def reserve(compute: Compute, name: str, mark: OwnerMark, internal: bool, subnetwork: str | None,
            ip: str | None, have: compute_v1.Address | None) -> ChosenAddress:
    """Our own address (``have``, as just read), created when missing; an existing one must carry our mark."""
    if have is not None:
        require_owned(mark, f"address {name}", have.description, have.labels)
        return ChosenAddress(have.address, ours=True)
    want = compute_v1.Address(name=name, description=mark.description, labels=mark.labels,
                              address_type="INTERNAL" if internal else "EXTERNAL")
    if internal:
        want.subnetwork = subnetwork or ""
        # TCP and UDP rules share the IP; internal addresses must say so to be shared.
        want.purpose = "SHARED_LOADBALANCER_VIP"
    else:
        want.network_tier = "PREMIUM"
    if ip:
        want.address = ip
    write(compute, f"reserving address {name}", lambda: compute.addresses.insert_unary(
        address_resource=want, timeout=REQUEST_TIMEOUT, **compute.in_region))
    created = _get(compute, name)
    if created is None:
        raise RetryLater(f"address {name} was reserved but cannot be read back yet")
    return ChosenAddress(created.address, ours=True)


def fits(address: compute_v1.Address, internal: bool, subnetwork: str | None, ip: str | None) -> bool:
    """Whether our existing address still serves this spec; if not it is released and reserved anew."""
    if not _fits(address, internal) or (ip and address.address != ip):
        return False
    return not internal or not subnetwork or relative_link(address.subnetwork) == relative_link(subnetwork)


def release(compute: Compute, name: str, mark: OwnerMark) -> None:
    have = _get(compute, name)
    if have is not None and is_owned(mark, have.description, have.labels):
        delete(compute, f"releasing address {name}", lambda: compute.addresses.delete_unary(
            address=name, timeout=REQUEST_TIMEOUT, **compute.in_region))
