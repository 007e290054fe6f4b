"""Object and field names as apimachinery validates them, with its messages (util/validation)."""

from __future__ import annotations

import re
from collections.abc import Callable

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

SUBDOMAIN_MESSAGE = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                     "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                     "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
LABEL_MESSAGE = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                 "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                 "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
DNS1035_MESSAGE = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                   "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
                   "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")


def _rule(pattern: re.Pattern[str], limit: int, message: str) -> Callable[[str], list[str]]:
    def problems(name: str) -> list[str]:
        found = [f"must be no more than {limit} characters"] if len(name) > limit else []
        return found + ([] if pattern.match(name) else [message])
    return problems


dns1123_subdomain = _rule(_SUBDOMAIN, 253, SUBDOMAIN_MESSAGE)
dns1123_label = _rule(_LABEL, 63, LABEL_MESSAGE)
dns1035_label = _rule(_DNS1035, 63, DNS1035_MESSAGE)
