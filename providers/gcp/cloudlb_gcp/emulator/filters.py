"""The ``filter`` parameter of Compute list calls: the subset cloudlb sends, parsed as strictly as the API does.

The API takes two kinds of expression that cannot be mixed: AIP-160
comparisons (``labels.owner = "ops"``, ``name != example``) and regular
expressions with ``eq``/``ne`` that must match the whole field
(``name eq "clb-.*"``). Served here: one comparison of either kind on a
field of the resource or on one label. Several parenthesized expressions
(which the API also takes) are answered with a 400 saying the emulator does
not serve them; what the API refuses (an unknown field, an operator it does
not have, a bad regular expression) gets the API's own 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import proto  # type: ignore[import-untyped]

from cloudlb_gcp.emulator.errors import invalid

Predicate = Callable[[Mapping[str, Any]], bool]

_FIELD = r"(?P<field>[A-Za-z][A-Za-z0-9_]*(?:\.[a-z][a-z0-9_-]*)?)"
_AIP_160 = re.compile(_FIELD + r'\s*(?P<op>!=|=)\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^\s()"\']+))$')
_LITERAL = r"""(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)'|(?P<bare>[^\s()"']+))"""
_REGEX = re.compile(_FIELD + r"\s+(?P<op>eq|ne)\s+" + _LITERAL + "$")


def _refused(text: str) -> Exception:
    return invalid(f"Invalid value for field 'filter': '{text}'. Invalid list filter expression.")


def _field_value(item: Mapping[str, Any], field: str) -> str | None:
    """The field's value as the filter compares it; None when the resource does not set it."""
    head, _, label = field.partition(".")
    value = (item.get("labels") or {}).get(label) if label else item.get(head)
    if value is None or isinstance(value, dict | list):
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def _check_field(field: str, message: type[proto.Message], text: str) -> None:
    """400 unless ``field`` is a field of the resource (by its JSON name), or ``labels.KEY`` of a map field."""
    head = field.split(".", 1)[0]
    descriptor = next((f for f in message.pb().DESCRIPTOR.fields if f.json_name == head), None)
    if descriptor is None:
        raise _refused(text)
    is_map = descriptor.message_type is not None and descriptor.message_type.GetOptions().map_entry
    if ("." in field) != is_map:
        raise _refused(text)


def parse(text: str, message: type[proto.Message]) -> Predicate:
    """A predicate over the resource's JSON for ``text``; 400 for what the API (or the emulator) does not take."""
    expression = text.strip()
    if expression.startswith("("):
        raise invalid(f"Invalid value for field 'filter': '{text}'. "
                      "The emulator serves a single comparison, not several expressions.")
    aip = _AIP_160.match(expression)
    if aip:
        _check_field(aip["field"], message, text)
        wanted = aip["quoted"] if aip["quoted"] is not None else aip["bare"]
        field, equal = aip["field"], aip["op"] == "="
        return lambda item: (_field_value(item, field) == wanted) == equal
    regex = _REGEX.match(expression)
    if regex:
        _check_field(regex["field"], message, text)
        literal = next(v for v in (regex["double"], regex["single"], regex["bare"]) if v is not None)
        try:
            pattern = re.compile(literal)
        except re.error:
            raise _refused(text) from None
        field, equal = regex["field"], regex["op"] == "eq"
        return lambda item: (pattern.fullmatch(_field_value(item, field) or "") is not None) == equal
    raise _refused(text)
