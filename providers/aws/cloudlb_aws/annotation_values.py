"""Readers for the value syntaxes the newer AWS annotations share: lists, ``k=v`` maps, problems. Pure.

cloud-provider-aws and aws-load-balancer-controller read them with Go's
``strings.Split`` and ``strings.TrimSpace``; these readers do the same, and
report what they cannot read as a named ``Problem`` instead of dropping it.
"""

from __future__ import annotations

from collections.abc import Mapping

from cloudlb import problems as p
from cloudlb.parsing import GO_SPACE, go_bool, integer_in_range, quoted
from cloudlb.problems import Problem


def where(name: str) -> str:
    return f"metadata.annotations[{name}]"


def problem(name: str, message: str, *, fatal: bool = True, reason: str = p.INVALID_ANNOTATION) -> Problem:
    return Problem(where(name), reason, message, fatal=fatal)


def string_list(value: str) -> tuple[str, ...]:
    """``"a, b,,c"`` -> ("a", "b", "c"): comma-separated, each item trimmed, empty items dropped (as upstream)."""
    return tuple(item.strip(GO_SPACE) for item in value.split(",") if item.strip(GO_SPACE))


def string_map(name: str, value: str, problems: list[Problem], *,
               bare_keys: bool = False) -> dict[str, str]:
    """``"k1=v1, k2=v2"`` as aws-load-balancer-controller reads a stringMap annotation.

    Each item is split at its first ``=`` and both sides trimmed. An item
    without ``=`` is a problem, unless ``bare_keys`` (cloud-provider-aws's
    reading of ``Key`` as ``Key=``). Later items win over earlier ones.
    """
    result: dict[str, str] = {}
    for item in string_list(value):
        key, equals, item_value = item.partition("=")
        key, item_value = key.strip(GO_SPACE), item_value.strip(GO_SPACE)
        if not key or (not equals and not bare_keys):
            problems.append(problem(name, f"{quoted(item)} is not written as key=value", fatal=False))
            continue
        result[key] = item_value
    return result


def boolean(name: str, text: str, problems: list[Problem], *, key: str | None = None,
            fatal: bool = False) -> bool | None:
    """A Go ``strconv.ParseBool`` value; a problem naming the annotation (and key) otherwise."""
    value = go_bool(text)
    if value is None:
        subject = f"{key}={quoted(text)}" if key else quoted(text)
        problems.append(problem(name, f"{subject} is not \"true\" or \"false\"", fatal=fatal))
    return value


def integer(name: str, text: str, low: int, high: int, problems: list[Problem], *, key: str | None = None,
            fatal: bool = False) -> int | None:
    """A whole number in ``[low, high]`` (ASCII digits, as Go's ParseInt); a problem otherwise."""
    value = integer_in_range(text, low, high)
    if value is None:
        subject = f"{key}={quoted(text)}" if key else quoted(text)
        problems.append(problem(name, f"{subject} is not a whole number from {low} to {high}", fatal=fatal))
    return value


def present(annotations: Mapping[str, str], name: str) -> str | None:
    """The trimmed value, or None when the annotation is absent or blank (upstream treats blank as unset)."""
    value = annotations.get(name)
    if value is None:
        return None
    value = value.strip(GO_SPACE)
    return value or None
