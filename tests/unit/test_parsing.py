"""The strict readers: ASCII digits only, the API server's IP and CIDR syntax, never an exception."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudlb.parsing import ascii_lower, ascii_upper, cidr, integer_in_range, ip_address, quoted, trimmed
from cloudlb.strategies import unicode_numbers

# Digits of other scripts: str.isdigit() is true for each, and int() accepts some of them
# (superscript two, Arabic-Indic three and thirty, fullwidth ten, NKo one, Bengali three, Thai five,
# mathematical bold five, circled one).
UNICODE_DIGITS = ["\u00b2", "\u0663", "\u0663\u0660", "\uff11\uff10", "\u07c1", "\u09e9", "\u0e55",
                  "\U0001d7d3", "\u2460"]


@pytest.mark.parametrize(("text", "expected"), [
    ("10", 10), ("+10", 10), ("0010", 10), ("300", 300), ("5", 5), ("-0", 0),
    ("4", None), ("301", None), ("-5", None), ("", None), ("+", None), ("1_0", None), ("0x10", None),
    (" 10", None), ("10 ", None), ("1e2", None), ("10.0", None), ("9" * 5000, None), ("0" * 5000 + "7", 7),
    *((digit, None) for digit in UNICODE_DIGITS),
])
def test_integer_in_range_reads_what_gos_parse_int_reads(text: str, expected: int | None) -> None:
    assert integer_in_range(text, 0 if text == "-0" else 5, 300) == expected


@given(st.text())
def test_integer_in_range_never_raises_and_only_reads_ascii(text: str) -> None:
    value = integer_in_range(text, -(10**30), 10**30)
    if value is not None:
        assert text.isascii() and text.lstrip("+-").isdigit()
        assert value == int(text)


@given(st.integers(min_value=-(10**18), max_value=10**18), st.sampled_from(["", "+"]), st.sampled_from(["", "0", "00"]))
def test_every_integer_in_range_is_read_exactly(number: int, plus: str, zeros: str) -> None:
    text = ("-" if number < 0 else plus) + zeros + str(abs(number))
    assert integer_in_range(text, -(10**18), 10**18) == number
    assert integer_in_range(text, number + 1, number + 2) is None


@given(unicode_numbers())
def test_no_number_with_a_unicode_digit_is_a_number(text: str) -> None:
    assert integer_in_range(text, 0, 10**30) is None


@pytest.mark.parametrize(("text", "expected"), [
    ("10.0.0.1", "10.0.0.1"), ("010.000.000.001", "10.0.0.1"), ("2001:db8::1", "2001:db8::1"),
    ("::ffff:1.2.3.4", "::ffff:102:304"), ("2001:DB8::1", "2001:db8::1"),
    ("fe80::1%eth0", None), ("fe80::1%1", None), ("10.0.0.256", None), ("10.0.0", None), ("10.0.0.1.2", None),
    ("\u0661\u0660.0.0.1", None), ("10.0.0.1/32", None), (" 10.0.0.1", None), ("", None), ("::g", None),
])
def test_ip_address_as_the_api_server_reads_it(text: str, expected: str | None) -> None:
    parsed = ip_address(text)
    assert (None if parsed is None else str(parsed)) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("10.0.0.0/8", "10.0.0.0/8"), ("10.0.0.1/8", "10.0.0.0/8"), ("10.0.0.0/08", "10.0.0.0/8"),
    ("2001:db8::/32", "2001:db8::/32"), ("0.0.0.0/0", "0.0.0.0/0"), ("::/0", "::/0"),
    ("fe80::1%eth0/64", None), ("10.0.0.0/255.0.0.0", None), ("10.0.0.0/33", None), ("2001:db8::/129", None),
    ("10.0.0.0", None), ("10.0.0.0/", None), ("10.0.0.0/+8", None), ("10.0.0.0/\u0668", None), ("10.0.0.0/8/8", None),
    ("10.0.0.0/" + "0" * 5000 + "8", "10.0.0.0/8"), ("10.0.0.0/" + "9" * 5000, None),
])
def test_cidr_as_the_api_server_reads_it(text: str, expected: str | None) -> None:
    parsed = cidr(text)
    assert (None if parsed is None else str(parsed)) == expected


@given(st.text())
def test_ip_and_cidr_readers_never_raise_and_never_keep_a_zone(text: str) -> None:
    for parsed in (ip_address(text), cidr(text)):
        assert parsed is None or "%" not in str(parsed)


@given(st.ip_addresses(), st.data())
def test_every_address_and_network_is_read_exactly(address: ipaddress.IPv4Address | ipaddress.IPv6Address,
                                                    data: st.DataObject) -> None:
    assert ip_address(str(address)) == address
    length = data.draw(st.integers(min_value=0, max_value=address.max_prefixlen))
    assert cidr(f"{address}/{length}") == ipaddress.ip_network(f"{address}/{length}", strict=False)


def test_case_folding_and_trimming_stay_ascii() -> None:
    assert ascii_lower("NLB") == "nlb" and ascii_upper("https") == "HTTPS"
    assert ascii_lower("\u212alb") == "\u212alb"  # the Kelvin sign lower-cases to "k" in Python
    assert ascii_upper("http\u017f") == "http\u017f"  # the long s upper-cases to "S" in Python
    assert trimmed(" \t10\n") == "10" and trimmed("\u300010") == "\u300010"


def test_quoted_values_are_shortened() -> None:
    assert quoted("abc") == "'abc'"
    long = quoted("x" * 1000)
    assert len(long) < 100 and "1000 characters" in long
