"""``aws-load-balancer-target-node-labels``: which eligible nodes are targets. Pure.

As cloud-provider-aws reads it: ``k1=v1,k2=v2`` (also ``k=`` and a bare
``k``, which ask only for the label to be present); a node is a target when it
carries every listed label with that value. The core passes each backend only
the labels named here (``node_label_keys``), so a change of any other label
re-plans nothing, and a change of one of these re-plans only the target
groups whose membership it changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from cloudlb.model import Backend
from cloudlb.parsing import quoted
from cloudlb.problems import Problem
from cloudlb_aws.annotation_values import problem, string_map
from cloudlb_aws.annotations import PREFIX

TARGET_NODE_LABELS = PREFIX + "target-node-labels"

# A label key: an optional DNS-subdomain prefix and "/", then a name of at most 63 characters.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _is_label_key(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not (len(prefix) <= 253 and _DNS_SUBDOMAIN.fullmatch(prefix)):
        return False
    return _LABEL_NAME.fullmatch(name) is not None


def _is_label_value(value: str) -> bool:
    return value == "" or _LABEL_NAME.fullmatch(value) is not None


def parse(annotations: Mapping[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """The wanted labels (an empty value: any value) and the problems with the annotation.

    A malformed key or value is fatal: no node can carry it, so the load
    balancer would silently lose every target.
    """
    found: list[Problem] = []
    raw = annotations.get(TARGET_NODE_LABELS)
    if raw is None:
        return {}, found
    wanted = string_map(TARGET_NODE_LABELS, raw, found, bare_keys=True)
    valid: dict[str, str] = {}
    for key, value in wanted.items():
        if not _is_label_key(key):
            found.append(problem(TARGET_NODE_LABELS, f"{quoted(key)} is not a node label key such as "
                                                     "node-role.kubernetes.io/edge"))
        elif not _is_label_value(value):
            found.append(problem(TARGET_NODE_LABELS, f"{quoted(value)} (for {key}) is not a label value: at most "
                                                     "63 of A-Z a-z 0-9 -_. , starting and ending alphanumeric"))
        else:
            valid[key] = value
    return valid, found


def node_label_keys(annotations: Mapping[str, str]) -> frozenset[str]:
    """The node labels this Service selects its targets by: what the core must pass in ``Backend.labels``."""
    return frozenset(parse(annotations)[0])


def selects(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    """Whether a node with ``labels`` carries every wanted label (an empty wanted value matches any value)."""
    return all(key in labels and (value == "" or labels[key] == value) for key, value in wanted.items())



def target_backends(backends: Iterable[Backend], annotations: Mapping[str, str]) -> tuple[Backend, ...]:
    """The eligible nodes that are targets: all of them without the annotation, else those it selects."""
    wanted = parse(annotations)[0]
    chosen = tuple(backends)
    if not wanted:
        return chosen
    return tuple(backend for backend in chosen if selects(dict(backend.labels), wanted))
