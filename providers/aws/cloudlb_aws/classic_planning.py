"""What the planner writes for a Classic ELB's attributes and proxy-protocol policy. Pure.

The attributes are read (one Describe) only for a load balancer whose Service
sets some, or on which cloudlb set some before (its record tag): the in-tree
defaults are what a new Classic ELB has, so any other needs no read. The
proxy-protocol policy and the backend ports carrying it are in the load
balancer's description, so they cost no read at all.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloudlb_aws import classic_attributes as ca
from cloudlb_aws.nlb_attributes import MANAGED_TAG
from cloudlb_aws.records import ClassicRecord

DEFAULTS = ca.parse({}).attributes
RECORD = {MANAGED_TAG: "attributes"}


@dataclass(frozen=True)
class ClassicChanges:
    attributes: Mapping[str, Any] = field(default_factory=dict)  # attribute groups to send (whole)
    after: str | None = None  # the attributes once written (JSON), for the inventory
    create_policy: bool = False
    backend_policies: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # instance port -> policies
    tag: bool = False
    untag: bool = False


def managed(settings: ca.ClassicSettings) -> bool:
    """Whether the Service asks for any attribute other than the default."""
    return dict(settings.attributes) != dict(DEFAULTS)


def needs_read(settings: ca.ClassicSettings, have: ClassicRecord | None) -> bool:
    return have is not None and have.attributes is None and (managed(settings) or MANAGED_TAG in have.tag_map)


def creation_tags(settings: ca.ClassicSettings) -> dict[str, str]:
    return dict(RECORD) if managed(settings) else {}


def plan(settings: ca.ClassicSettings, have: ClassicRecord | None, instance_ports: set[int]) -> ClassicChanges:
    """For an existing load balancer (``have``) or a new one (None) with listeners on ``instance_ports``."""
    wants = managed(settings)
    if have is None:
        attributes = dict(settings.attributes) if wants else {}
        observed: dict[str, Any] = dict(DEFAULTS)
        policies: tuple[str, ...] = ()
        tags: Mapping[str, str] = creation_tags(settings)
    else:
        attributes, observed = {}, dict(DEFAULTS)
        if have.attributes is not None:
            observed = json.loads(have.attributes)
            attributes = {g: v for g, v in settings.attributes.items() if observed.get(g) != v}
        policies, tags = have.policies, have.tag_map
    after = json.dumps({**observed, **attributes}, sort_keys=True)
    backend: dict[int, tuple[str, ...]] = {}
    for port in sorted(instance_ports):
        current = have.backend_policies_of(port) if have is not None else ()
        wanted = tuple(sorted({*current, ca.PROXY_PROTOCOL_POLICY})) if settings.proxy_protocol else tuple(
            p for p in current if p != ca.PROXY_PROTOCOL_POLICY)
        if wanted != current:
            backend[port] = wanted
    return ClassicChanges(
        attributes=attributes, after=after,
        create_policy=settings.proxy_protocol and ca.PROXY_PROTOCOL_POLICY not in policies,
        backend_policies=backend,
        tag=have is not None and wants and MANAGED_TAG not in tags,
        untag=have is not None and not wants and MANAGED_TAG in tags)
