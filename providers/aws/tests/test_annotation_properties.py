"""The AWS annotation parsers, fuzzed: never an exception, every invalid value named, every valid one read exactly."""

from __future__ import annotations

from typing import Any

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.provider import AWSProvider
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudlb import problems as p
from cloudlb.parsing import trimmed
from cloudlb.plan import plan
from cloudlb.provider import ProviderSettings
from cloudlb.strategies import annotation_maps, annotation_values, ascii_numbers, padded, services, unicode_numbers
from cloudlb.translate import AWS_INTERNAL_ANNOTATION, AWS_SCHEME_ANNOTATION, translate

NAMES = (*a.PARSED, AWS_INTERNAL_ANNOTATION, AWS_SCHEME_ANNOTATION)
KNOWN_REASONS = {value for name, value in vars(p).items() if name.isupper() and isinstance(value, str)}
NUMBERS = {a.HEALTHCHECK_INTERVAL: "interval", a.HEALTHCHECK_TIMEOUT: "timeout",
           a.HEALTHCHECK_HEALTHY_THRESHOLD: "threshold", a.HEALTHCHECK_UNHEALTHY_THRESHOLD: "threshold"}
KINDS = st.sampled_from([None, a.NLB, a.CLB])


def where(name: str) -> str:
    return f"metadata.annotations[{name}]"


def expected_number(text: str, low: int, high: int) -> int | None:
    """The oracle: ASCII digits (an optional sign) around ASCII spaces, within the range."""
    core = trimmed(text)
    digits = core[1:] if core[:1] in ("+", "-") else core
    if not (digits and digits.isascii() and digits.isdigit()) or len(digits.lstrip("0")) > 6:
        return None
    value = int(core)
    return value if low <= value <= high else None


@settings(max_examples=300)
@given(annotation_maps(NAMES), st.booleans(), KINDS)
def test_parse_never_raises_and_names_the_annotation_of_every_problem(
        annotations: dict[str, str], internal: bool, kind: str | None) -> None:
    parsed = a.parse(annotations, internal=internal, kind=kind)
    for problem in parsed.problems:
        assert problem.reason in KNOWN_REASONS
        name = problem.field.removeprefix("metadata.annotations[").removesuffix("]")
        assert name in annotations, problem
        assert len(problem.message) < 600
    # What is sent to AWS as an id or a number is ASCII (a subnet's Name tag may be any letters or digits).
    assert all(value.isascii() for value in (*(parsed.ssl_ports or ()), *parsed.eip_allocations,
                                             *(s for s in parsed.subnets if s.startswith("subnet-"))))


@settings(max_examples=300)
@given(services(NAMES), st.sampled_from(["nlb", "clb"]))
def test_translation_and_the_providers_checks_never_raise_for_any_service(service: dict[str, Any],
                                                                         default_type: str) -> None:
    provider = AWSProvider(ProviderSettings("fuzz", {"aws_default_type": default_type}))
    result = plan(translate(service, ()), provider)
    assert all(problem.reason in KNOWN_REASONS for problem in result.problems)


@pytest.mark.parametrize("name", sorted(NUMBERS))
@given(value=st.one_of(annotation_values(), padded(ascii_numbers()), unicode_numbers()), kind=KINDS)
def test_every_number_is_read_exactly_or_named(name: str, value: str, kind: str | None) -> None:
    rules = a.CLB_HEALTH_CHECK if kind == a.CLB else a.NLB_HEALTH_CHECK
    expected = expected_number(value, *getattr(rules, NUMBERS[name]))
    parsed = a.parse({name: value}, internal=False, kind=kind)
    read = {a.HEALTHCHECK_INTERVAL: parsed.health_check.interval, a.HEALTHCHECK_TIMEOUT: parsed.health_check.timeout,
            a.HEALTHCHECK_HEALTHY_THRESHOLD: parsed.health_check.healthy_threshold,
            a.HEALTHCHECK_UNHEALTHY_THRESHOLD: parsed.health_check.unhealthy_threshold}[name]
    assert read == expected
    named = [problem for problem in parsed.problems if problem.field == where(name)]
    if expected is None:
        assert named, f"{value!r} was refused without a problem"
        assert named[0].fatal is bool(trimmed(value)), "only an empty value is a mere warning"


@given(unicode_numbers(), st.sampled_from([*sorted(NUMBERS), a.HEALTHCHECK_PORT, a.HEALTHCHECK_SUCCESS_CODES]))
def test_a_number_with_a_non_ascii_digit_is_never_read(value: str, name: str) -> None:
    parsed = a.parse({name: value}, internal=False)
    assert [(x.field, x.fatal) for x in parsed.problems] == [(where(name), True)]


@given(st.integers(5, 300), st.integers(2, 120), st.sampled_from([a.NLB, a.CLB]))
def test_timeout_and_interval_are_refused_exactly_when_aws_would(interval: int, timeout: int, kind: str) -> None:
    parsed = a.parse({a.HEALTHCHECK_INTERVAL: str(interval), a.HEALTHCHECK_TIMEOUT: str(timeout)}, internal=False,
                     kind=kind)
    refused = timeout > interval if kind == a.NLB else timeout > 60 or timeout >= interval
    assert bool(parsed.problems) is refused
    assert all(x.fatal and x.field == where(a.HEALTHCHECK_TIMEOUT) for x in parsed.problems)


@given(st.one_of(st.integers(-5, 70000).map(str), st.just("traffic-port"), annotation_values()))
def test_health_check_port_is_a_port_number_or_traffic_port(value: str) -> None:
    parsed = a.parse({a.HEALTHCHECK_PORT: value}, internal=False)
    raw = trimmed(value)
    number = expected_number(value, 1, 65535)
    expected = raw if raw == "traffic-port" else (None if number is None else str(number))
    assert parsed.health_check.port == expected
    assert bool(parsed.problems) is (expected is None)


@given(st.lists(st.tuples(st.integers(200, 599), st.integers(0, 50)), min_size=1, max_size=4))
def test_every_success_code_list_aws_accepts_is_kept(ranges: list[tuple[int, int]]) -> None:
    codes = ",".join(f"{low}" if width == 0 or low + width > 599 else f"{low}-{low + width}" for low, width in ranges)
    parsed = a.parse({a.HEALTHCHECK_SUCCESS_CODES: codes}, internal=False)
    assert (parsed.health_check.success_codes, parsed.problems) == (codes, ())


@given(st.dictionaries(st.text(max_size=130), st.text(max_size=260), max_size=50))
def test_tags_are_kept_as_written_or_named(tags: dict[str, str]) -> None:
    raw = ",".join(f"{key}={value}" for key, value in tags.items())
    parsed = a.parse({a.ADDITIONAL_RESOURCE_TAGS: raw}, internal=False)
    for key, value in parsed.additional_tags.items():
        assert 1 <= len(key) <= 128 and len(value) <= 256
        assert not key.lower().startswith(("aws:", "kubernetes.io/", "cloudlb.io/"))
        assert "," not in key + value
    if not parsed.problems:
        assert len(parsed.additional_tags) <= a.MAX_ADDITIONAL_TAGS


def any_case(words: list[str] | tuple[str, ...]) -> st.SearchStrategy[str]:
    """One of ``words`` in random ASCII case, with ASCII spaces around it."""
    return st.builds(lambda word, flips, left, right: left + "".join(
        c.upper() if flip else c.lower() for c, flip in zip(word, flips, strict=False)) + right,
        st.sampled_from(words), st.lists(st.booleans(), min_size=16, max_size=16),
        st.sampled_from(["", " ", "\n"]), st.sampled_from(["", " ", "\t"]))


@given(st.one_of(any_case(a.KNOWN_TYPES), annotation_values()))
def test_the_type_is_a_known_one_in_any_ascii_case_or_named(value: str) -> None:
    parsed = a.parse({a.TYPE: value}, internal=False)
    word = trimmed(value).lower() if trimmed(value).isascii() else None
    if word in a.KNOWN_TYPES:
        assert parsed.lb_type == word
        assert all(x.reason == p.UNSUPPORTED_OPTION and not x.fatal for x in parsed.problems)
    else:
        assert parsed.lb_type is None
        assert [x.field for x in parsed.problems] == [where(a.TYPE)]


@given(st.one_of(any_case(a.HEALTHCHECK_PROTOCOLS), annotation_values()))
def test_the_health_check_protocol_is_tcp_http_or_https_in_any_ascii_case_or_named(value: str) -> None:
    parsed = a.parse({a.HEALTHCHECK_PROTOCOL: value}, internal=False)
    word = trimmed(value).upper() if trimmed(value).isascii() else None
    assert parsed.health_check.protocol == (word if word in a.HEALTHCHECK_PROTOCOLS else None)
    assert bool(parsed.problems) is (word not in a.HEALTHCHECK_PROTOCOLS)


@given(st.one_of(st.sampled_from(["true", "True", "TRUE", "t", "T", "1", "false", "False", "FALSE", "f", "F", "0"]),
                 annotation_values()))
def test_cross_zone_is_read_as_go_reads_a_bool_or_named(value: str) -> None:
    parsed = a.parse({a.CROSS_ZONE: value}, internal=False)
    word = trimmed(value)
    truths, falsehoods = {"true", "True", "TRUE", "t", "T", "1"}, {"false", "False", "FALSE", "f", "F", "0"}
    assert parsed.cross_zone == (True if word in truths else False if word in falsehoods else None)
    assert bool(parsed.problems) is (word not in truths | falsehoods)


@given(st.from_regex(r"/[A-Za-z0-9@:%_+.~#?&/=-]{0,200}", fullmatch=True))
def test_every_health_check_path_aws_accepts_is_kept_exactly(path: str) -> None:
    parsed = a.parse({a.HEALTHCHECK_PATH: path}, internal=False)
    assert (parsed.health_check.path, parsed.problems) == (path, ())


@given(st.lists(st.one_of(st.integers(1, 65535), st.from_regex(a.PORT_NAME, fullmatch=True)), min_size=1, max_size=5),
       st.sampled_from(["", "+", "0"]))
def test_ssl_ports_are_read_as_canonical_numbers_and_port_names(ports: list[int | str], prefix: str) -> None:
    raw = ", ".join(f"{prefix}{port}" if isinstance(port, int) else port for port in ports)
    parsed = a.parse({a.SSL_CERT: "arn:aws:acm:us-east-1:123456789012:certificate/abc", a.SSL_PORTS: raw},
                     internal=False)
    assert (parsed.ssl_ports, parsed.problems) == (tuple(str(port) for port in ports), ())


@given(st.lists(st.from_regex(a.ALLOCATION_ID, fullmatch=True), min_size=1, max_size=3, unique=True),
       st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=3, unique=True))
def test_addresses_aws_accepts_are_kept_exactly(allocations: list[str], private: list[str]) -> None:
    public = a.parse({a.EIP_ALLOCATIONS: ",".join(allocations)}, internal=False)
    assert (public.eip_allocations, public.problems) == (tuple(allocations), ())
    internal = a.parse({a.PRIVATE_IPV4_ADDRESSES: " , ".join(private)}, internal=True)
    assert (internal.private_ipv4_addresses, internal.problems) == (tuple(private), ())
