"""Hypothesis strategies for what users (and fuzzers) write into Services, for property tests.

Shared by the core's and the providers' tests, and usable by a plugin's own:
the values that broke parsers before are drawn often on purpose (other
scripts' digits, Unicode spaces, numbers too long for ``int()``, empty
strings, wrong JSON types). Needs ``hypothesis``, a test dependency; nothing
in the controller imports this module.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

# Digits of other scripts, superscripts and circled digits: str.isdigit() is true for all of them.
NON_ASCII_DIGITS = st.characters(categories=["Nd", "No"], exclude_characters="0123456789")
# ASCII and Unicode whitespace, including what Go's TrimSpace removes and what it does not (U+001C).
SPACES = st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\xa0", "\u2003", "\u3000", "\u200b"])
KEYWORDS = ("true", "false", "True", "TRUE", "nlb", "clb", "NLB", "external", "nlb-ip", "internal", "Internal",
            "internet-facing", "External", "*", "traffic-port", "TCP", "HTTP", "https", "0.0.0.0/0", "10.0.0.0/8",
            "fe80::1%eth0/64", "2001:db8::/32", "200-399", "/healthz", "subnet-0123456789abcdef0",
            "eipalloc-0123456789abcdef0", "10.0.0.5", "a=b,c=d")


def ascii_numbers() -> st.SearchStrategy[str]:
    """Integers as text: small and huge, signed, with leading zeros."""
    small = st.integers(min_value=-1000, max_value=100_000).map(str)
    zeros = st.builds(lambda z, n: "0" * z + str(n), st.integers(1, 3), st.integers(0, 400))
    plus = st.integers(0, 400).map(lambda n: f"+{n}")
    huge = st.text(alphabet="0123456789", min_size=19, max_size=6000)
    return st.one_of(small, zeros, plus, huge)


def unicode_numbers() -> st.SearchStrategy[str]:
    """Numbers written with at least one digit that is not ASCII (superscript two, Arabic-Indic thirty, ...)."""
    return st.builds(lambda head, digit, tail: head + digit + tail,
                     st.text(alphabet="0123456789", max_size=2), NON_ASCII_DIGITS,
                     st.text(alphabet=st.one_of(NON_ASCII_DIGITS, st.sampled_from("0123456789")), max_size=2))


def padded(values: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``values`` with whitespace (ASCII or not) around them."""
    pad = st.text(alphabet=SPACES, max_size=2)
    return st.builds(lambda left, value, right: left + value + right, pad, values, pad)


def annotation_values() -> st.SearchStrategy[str]:
    """Any text an annotation might hold, with the troublesome kinds drawn often."""
    keywords = st.sampled_from(KEYWORDS)
    listed = st.lists(st.one_of(keywords, ascii_numbers(), unicode_numbers(), st.text(max_size=6)),
                      max_size=4).map(",".join)
    return st.one_of(st.just(""), st.text(), keywords, padded(keywords), ascii_numbers(), padded(ascii_numbers()),
                     unicode_numbers(), padded(unicode_numbers()), st.text(alphabet=SPACES, max_size=3), listed)


def annotation_maps(names: Sequence[str] = ()) -> st.SearchStrategy[dict[str, str]]:
    """Annotation maps over ``names`` (drawn often) and arbitrary names."""
    keys = st.one_of(st.sampled_from(names), st.text(max_size=20)) if names else st.text(max_size=20)
    return st.dictionaries(keys, annotation_values(), max_size=8)


def ip_networks() -> st.SearchStrategy[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """IPv4 and IPv6 networks of every prefix length."""
    return st.ip_addresses().flatmap(lambda address: st.integers(0, address.max_prefixlen).map(
        lambda length: ipaddress.ip_network(f"{address}/{length}", strict=False)))


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value: what a field holds when it holds the wrong type."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=10))
    return st.recursive(leaves, lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)), max_leaves=8)


def _maybe_wrong(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually ``valid``, sometimes a JSON value of any type."""
    return st.one_of(valid, valid, valid, json_values())


def _ports() -> st.SearchStrategy[Any]:
    port_numbers = st.one_of(st.integers(1, 65535), st.integers(), ascii_numbers(), st.booleans())
    port = st.fixed_dictionaries({}, optional={
        "name": _maybe_wrong(st.sampled_from(["http", "https", "dns", ""])),
        "port": _maybe_wrong(port_numbers),
        "protocol": _maybe_wrong(st.sampled_from(["TCP", "UDP", "SCTP", "tcp", "QUIC", ""])),
        "nodePort": _maybe_wrong(port_numbers),
    })
    return _maybe_wrong(st.lists(_maybe_wrong(port), max_size=5))


def services(annotation_names: Sequence[str] = ()) -> st.SearchStrategy[dict[str, Any]]:
    """Service objects as kopf hands them over, and the ones no API server would: wrong types anywhere."""
    maps = st.one_of(
        annotation_maps(annotation_names),
        st.dictionaries(st.one_of(st.sampled_from(annotation_names or ["x"]), st.text(max_size=10)),
                        json_values(), max_size=3))
    metadata = st.fixed_dictionaries({"name": _maybe_wrong(st.sampled_from(["web", "api"])),
                                      "namespace": _maybe_wrong(st.just("default"))},
                                     optional={"uid": _maybe_wrong(st.uuids().map(str)),
                                               "annotations": _maybe_wrong(maps)})
    addresses = st.one_of(st.sampled_from(KEYWORDS), annotation_values(), st.ip_addresses().map(str))
    spec = st.fixed_dictionaries({"type": st.just("LoadBalancer")}, optional={
        "ports": _ports(),
        "externalTrafficPolicy": _maybe_wrong(st.sampled_from(["Cluster", "Local"])),
        "healthCheckNodePort": _maybe_wrong(st.one_of(st.integers(30000, 32767), st.integers())),
        "loadBalancerSourceRanges": _maybe_wrong(st.lists(_maybe_wrong(addresses), max_size=3)),
        "loadBalancerIP": _maybe_wrong(addresses),
        "loadBalancerClass": _maybe_wrong(st.sampled_from(["cloudlb.io/aws", "other"])),
    })
    return st.fixed_dictionaries({"metadata": _maybe_wrong(metadata), "spec": _maybe_wrong(spec)})
