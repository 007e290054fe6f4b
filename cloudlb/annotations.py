"""Annotations in a provider's own namespaces that nothing honours: named, never dropped silently. Pure.

A provider declares the namespaces it speaks for
(``Capabilities.annotation_prefixes``, e.g. ``service.beta.kubernetes.io/aws-load-balancer-``)
and the annotations it honours there (``Capabilities.annotations``);
``cloudlb.io/`` is every provider's namespace, where the core itself honours
``CORE_ANNOTATIONS``. Anything else in those namespaces is a typo or an
upstream feature cloudlb does not implement. Either way the user believes it
does something, so each gets a non-fatal problem (a Warning Event and a
status condition), and a near miss a guess at what was meant.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable, Mapping

from cloudlb import problems as p
from cloudlb.problems import Problem
from cloudlb.provider import Capabilities
from cloudlb.sharing import SHARE_KEY_ANNOTATION

CLOUDLB_PREFIX = "cloudlb.io/"
# The cloudlb.io/ annotations the core reads whatever the provider.
CORE_ANNOTATIONS = frozenset({SHARE_KEY_ANNOTATION})
# How alike (difflib's ratio, case-blind, over the part after the namespace) a name must be to an honoured one
# to be offered as "did you mean": typos score high (typo/type 0.75, healtcheck-path 0.97), other upstream
# features low (backend-protocol/healthcheck-protocol 0.67, proxy-protocol/healthcheck-protocol 0.53).
NEAR_MISS = 0.75


def _namespace(name: str, prefixes: Iterable[str]) -> str | None:
    """The longest of ``prefixes`` that ``name`` starts with."""
    return max((prefix for prefix in prefixes if name.startswith(prefix)), key=len, default=None)


@functools.lru_cache(maxsize=4096)
def _near_miss(name: str, prefix: str, honoured: frozenset[str], prefixes: tuple[str, ...]) -> str | None:
    """The honoured annotation ``name`` most likely misspells, if any is close enough.

    Only the part after the namespace is compared (every name in a namespace
    shares a long prefix, which would make everything look alike), against
    honoured names of every namespace the provider speaks for, so that the
    right option under the wrong namespace is found too. Cached: the same
    names recur on every reconcile of every Service.
    """
    matcher = difflib.SequenceMatcher(b=name.removeprefix(prefix).lower())
    best: tuple[float, bool, str] | None = None
    for candidate in sorted(honoured):
        own = _namespace(candidate, prefixes)
        if own is None:
            continue
        matcher.set_seq1(candidate.removeprefix(own).lower())
        # The cheap upper bounds first, as difflib.get_close_matches does.
        if matcher.real_quick_ratio() < NEAR_MISS or matcher.quick_ratio() < NEAR_MISS:
            continue
        # On a tie (the same option under two namespaces) the name's own namespace wins.
        score = (matcher.ratio(), own == prefix, candidate)
        if score[0] >= NEAR_MISS and (best is None or score[:2] > best[:2]):
            best = score
    return None if best is None else best[2]


def unhonoured_annotations(annotations: Mapping[str, str], capabilities: Capabilities) -> tuple[Problem, ...]:
    """One non-fatal ``UnsupportedAnnotation`` problem per annotation in the provider's namespaces it ignores."""
    prefixes = (*capabilities.annotation_prefixes, CLOUDLB_PREFIX)
    honoured = capabilities.annotations | CORE_ANNOTATIONS
    found: list[Problem] = []
    for name in sorted(annotations):
        prefix = _namespace(name, prefixes)
        if prefix is None or name in honoured:
            continue
        message = "cloudlb does not honour this annotation; it is ignored"
        guess = _near_miss(name, prefix, honoured, prefixes)
        if guess is not None:
            message += f" (did you mean {guess}?)"
        found.append(Problem(f"metadata.annotations[{name}]", p.UNSUPPORTED_ANNOTATION, message))
    return tuple(found)
