"""``labelSelector`` and ``fieldSelector`` query parameters, parsed and matched.

Field selectors are matched generically by dotted path (``metadata.name``,
``involvedObject.uid``, ``spec.type``...), which covers what kopf, kubectl get/
delete/wait and ``kubectl describe`` (its Events lookup) send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cloudlb.kubeapi.errors import bad_request

Predicate = Callable[[Mapping[str, Any]], bool]

_SET_REQUIREMENT = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\((.*)\)\s*$")


@dataclass(frozen=True)
class Selector:
    """A conjunction of label and field requirements; empty matches everything."""

    requirements: tuple[Predicate, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all(requirement(obj) for requirement in self.requirements)


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not inside ``in (a,b)`` parentheses."""
    terms, depth, current = [], 0, ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    terms.append(current)
    return [term.strip() for term in terms if term.strip()]


def _labels(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    labels = obj.get("metadata", {}).get("labels") or {}
    return labels if isinstance(labels, Mapping) else {}


def _label_value(obj: Mapping[str, Any], key: str) -> Any:
    return _labels(obj).get(key)


def _equality_requirement(term: str, value_of: Callable[[Mapping[str, Any], str], Any]) -> Predicate | None:
    """``key=value``, ``key==value`` or ``key!=value``, with ``value_of(obj, key)`` as the compared value."""
    for operator in ("!=", "==", "="):
        if operator in term:
            key, value = (part.strip() for part in term.split(operator, 1))
            if operator == "!=":
                return lambda obj: value_of(obj, key) != value
            return lambda obj: value_of(obj, key) == value
    return None


def _label_requirement(term: str) -> Predicate:
    if match := _SET_REQUIREMENT.match(term):
        key, operator, values_text = match.groups()
        values = {value.strip() for value in values_text.split(",") if value.strip()}
        if operator == "in":
            return lambda obj: _label_value(obj, key) in values
        return lambda obj: _label_value(obj, key) not in values
    if equality := _equality_requirement(term, _label_value):
        return equality
    if term.startswith("!"):
        key = term[1:].strip()
        return lambda obj: key not in _labels(obj)
    if re.fullmatch(r"[A-Za-z0-9./_-]+", term):
        return lambda obj: term in _labels(obj)
    raise bad_request(f"unable to parse requirement: {term!r}")


def field_value(obj: Mapping[str, Any], dotted: str) -> str:
    """The string value at a dotted path, "" when absent, as the real field selectors see it."""
    node: Any = obj
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return ""
        node = node[part]
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)


def _field_requirement(term: str) -> Predicate:
    if equality := _equality_requirement(term, field_value):
        return equality
    raise bad_request(f"invalid field selector: {term!r}")


def parse(label_selector: str | None, field_selector: str | None) -> Selector:
    requirements: list[Predicate] = []
    requirements += [_label_requirement(term) for term in _split_terms(label_selector or "")]
    requirements += [_field_requirement(term) for term in _split_terms(field_selector or "")]
    return Selector(tuple(requirements))
