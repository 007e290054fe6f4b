"""Strict readers for the text of Service fields and annotations, shared by the core and the providers. Pure.

Kubernetes hands every annotation over as text, and the clouds read only
ASCII. Python's own readers are wider: ``str.isdigit`` is true for "²" and
"٣٠" (and ``int()`` then refuses "²" but accepts "٣٠"), ``\\d`` in a regex
matches every script's digits, ``int()`` of a very long number raises, and
``ipaddress`` accepts IPv6 zone ids (``fe80::1%eth0``) and netmask prefixes
(``10.0.0.0/255.0.0.0``) that the Kubernetes API server refuses. The readers
here accept exactly the upstream syntax and answer ``None`` for anything
else, so that the caller can name the problem; none of them raises.
"""

from __future__ import annotations

import ipaddress
import re

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# What YAML block scalars and careless quoting leave around a value; other
# Unicode spaces are content, so that a look-alike never passes as a keyword.
ASCII_WHITESPACE = " \t\n\r\f\v"
# What Go's strings.TrimSpace removes (Unicode White_Space), which the API server applies to source ranges.
GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u2028\u2029\u202f\u205f\u3000"
# An integer as Go's strconv.ParseInt / Atoi reads it in base 10, which is how
# cloud-provider-aws and aws-load-balancer-controller read numeric annotations.
_INTEGER = re.compile(r"([+-]?)([0-9]+)")
_DIGITS = re.compile(r"[0-9]+")
# Longer numbers (leading zeros aside) exceed every range checked here; int() of
# thousands of digits raises, so they are never converted.
_MAX_DIGITS = 19
# How much of a user's value a message quotes: enough to recognise it, never a wall of text in an Event.
QUOTE_LIMIT = 64


def trimmed(text: str) -> str:
    """``text`` without surrounding ASCII whitespace."""
    return text.strip(ASCII_WHITESPACE)


def ascii_lower(text: str) -> str:
    """Lower-cased when ASCII; anything else is returned as is, so it never equals an ASCII keyword.

    (``str.lower`` maps the Kelvin sign U+212A to "k", ``str.upper`` the long s U+017F to "S".)
    """
    return text.lower() if text.isascii() else text


def ascii_upper(text: str) -> str:
    """Upper-cased when ASCII; anything else is returned as is (see ``ascii_lower``)."""
    return text.upper() if text.isascii() else text


# The spellings Go's strconv.ParseBool accepts, which upstream controllers use for boolean annotations.
_GO_BOOLS = {"1": True, "t": True, "T": True, "TRUE": True, "true": True, "True": True,
             "0": False, "f": False, "F": False, "FALSE": False, "false": False, "False": False}


def go_bool(text: str) -> bool | None:
    """The boolean ``text`` spells for Go's strconv.ParseBool ("true", "True", "1", "f", ...); else None."""
    return _GO_BOOLS.get(text)


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``repr`` of a user's value for a message, shortened to about ``limit`` characters."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"… ({len(text)} characters)"


def _small_int(digits: str) -> int | None:
    significant = digits.lstrip("0") or "0"
    return int(significant) if len(significant) <= _MAX_DIGITS else None


def integer_in_range(text: str, low: int, high: int) -> int | None:
    """The integer ``text`` spells (an optional sign, ASCII digits) when it lies in ``[low, high]``; else None."""
    match = _INTEGER.fullmatch(text)
    if match is None:
        return None
    sign, digits = match.groups()
    value = _small_int(digits)
    if value is None:
        return None
    value = -value if sign == "-" else value
    return value if low <= value <= high else None


def ip_address(text: str) -> IPAddress | None:
    """An IP address as the API server reads one (``ParseIPSloppy``).

    No IPv6 zone id; IPv4 octets may carry leading zeros ("010" is ten), as
    in the Go versions the API server's sloppy parser was taken from.
    """
    if "%" in text:
        return None
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            return None
    octets = text.split(".")
    if len(octets) != 4 or not all(_DIGITS.fullmatch(octet) for octet in octets):
        return None
    values = [_small_int(octet) for octet in octets]
    if any(value is None or value > 255 for value in values):
        return None
    return ipaddress.IPv4Address(".".join(str(value) for value in values))


def cidr(text: str) -> IPNetwork | None:
    """A CIDR as the API server reads one (``ParseCIDRSloppy``): ``address/prefix-length``.

    The prefix length is ASCII digits (no netmask form), the address follows
    ``ip_address``; host bits are allowed and dropped (10.0.0.1/8 is 10.0.0.0/8).
    """
    address, slash, prefix = text.partition("/")
    ip = ip_address(address)
    if not slash or ip is None or _DIGITS.fullmatch(prefix) is None:
        return None
    length = _small_int(prefix)
    if length is None or length > ip.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{ip}/{length}", strict=False)
