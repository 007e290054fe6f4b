"""What the planner writes for NLB and target-group attributes, from the annotations and the inventory. Pure.

Attributes are not in any listing, so they are read (one Describe per
resource) only for a resource whose Service sets some, or on which cloudlb set
some before (its record tag says which): a Service that never used them costs
no read. The writes come first and the record tag after them, so a failure in
between leaves a record that still names every key to reset.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cloudlb_aws import nlb_attributes as attrs


@dataclass(frozen=True)
class AttributeChanges:
    """``write``: the values to send; ``after``: every known attribute once written (for the inventory);
    ``tag``: the record tag to set, ``untag``: whether to remove it."""

    write: Mapping[str, str]
    after: Mapping[str, str]
    tag: Mapping[str, str]
    untag: bool

    @property
    def empty(self) -> bool:
        return not self.write and not self.tag and not self.untag


def needs_read(wanted: Mapping[str, str], tags: Mapping[str, str], observed: Mapping[str, str] | None) -> bool:
    """Whether the resource's attributes must be read before it can be planned."""
    return observed is None and bool(wanted or attrs.managed_keys(tags))


def for_new(wanted: Mapping[str, str], defaults: Mapping[str, str]) -> AttributeChanges:
    """A resource about to be created: its record tag goes on at creation (see ``creation_tags``)."""
    return AttributeChanges(dict(wanted), {**defaults, **wanted}, {}, False)


def creation_tags(wanted: Mapping[str, str]) -> dict[str, str]:
    return attrs.managed_tag(wanted)


def for_existing(wanted: Mapping[str, str], tags: Mapping[str, str], observed: Mapping[str, str] | None,
                 defaults: Mapping[str, str]) -> AttributeChanges:
    """An existing resource whose attributes are known (``observed``), or need none (None, nothing managed)."""
    before = attrs.managed_keys(tags)
    known = dict(observed or {})
    write = attrs.writes(wanted, before, known, defaults) if observed is not None else {}
    record = attrs.managed_tag(wanted)
    tag = record if record and tags.get(attrs.MANAGED_TAG) != record[attrs.MANAGED_TAG] else {}
    untag = not record and attrs.MANAGED_TAG in tags
    return AttributeChanges(write, {**known, **write}, tag, untag)


def describe(changes: Mapping[str, str], observed: Mapping[str, str]) -> str:
    """A change's reason: ``key: old -> new`` for each attribute written."""
    return "; ".join(f"{key}: {observed.get(key, 'unset')} -> {value}" for key, value in sorted(changes.items()))
