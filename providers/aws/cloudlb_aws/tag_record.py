"""Which of ``aws-load-balancer-additional-resource-tags`` cloudlb put on a resource, so that it can take
them off again. Pure.

A tag removed from the annotation is removed from AWS, but only a key cloudlb
set: the keys it set are recorded in one tag beside them (cost-allocation
tags that other tools add are never touched). AWS holds a tag value of at most
256 characters: keys that do not fit in the record are still set, and said so.
"""

from __future__ import annotations

from collections.abc import Mapping

RECORD_TAG = "cloudlb.io/additional-tags"
MAX_VALUE = 256


def recorded_keys(extra: Mapping[str, str]) -> tuple[str, ...]:
    """The keys of ``extra`` the record holds: sorted, as many as fit in one tag value."""
    kept: list[str] = []
    for key in sorted(extra):
        if len(",".join([*kept, key])) > MAX_VALUE:
            break
        kept.append(key)
    return tuple(kept)


def with_record(extra: Mapping[str, str] | None) -> dict[str, str]:
    """The user's additional tags and, when there are any, the record naming them."""
    tags = dict(extra or {})
    if tags:
        tags[RECORD_TAG] = ",".join(recorded_keys(tags))
    return tags


def tags_to_remove(desired: Mapping[str, str], observed: Mapping[str, str]) -> tuple[str, ...]:
    """Keys cloudlb recorded on the resource that are no longer desired (and the record itself, when unused)."""
    recorded = [key for key in observed.get(RECORD_TAG, "").split(",") if key]
    stale = {key for key in recorded if key not in desired and key in observed}
    if RECORD_TAG in observed and RECORD_TAG not in desired:
        stale.add(RECORD_TAG)
    return tuple(sorted(stale))
