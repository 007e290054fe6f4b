"""The GKE annotation parsers, fuzzed: never an exception, every invalid value named, every valid one read exactly."""

from __future__ import annotations

import re
from typing import Any

from cloudlb_gcp import gke_annotations as g
from cloudlb_gcp.plugin import plugin
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudlb import problems as p
from cloudlb.model import KUBE_PROXY_HEALTH_CHECK, LoadBalancerSpec, Port, Protocol, ServiceRef
from cloudlb.parsing import trimmed
from cloudlb.plan import plan
from cloudlb.provider import ProviderSettings
from cloudlb.strategies import annotation_maps, annotation_values, services
from cloudlb.translate import GKE_TYPE_ANNOTATION, LEGACY_GKE_TYPE_ANNOTATION, translate

NAMES = (g.SUBNET, g.GLOBAL_ACCESS, g.IP_ADDRESSES, GKE_TYPE_ANNOTATION, LEGACY_GKE_TYPE_ANNOTATION)
KNOWN_REASONS = {value for name, value in vars(p).items() if name.isupper() and isinstance(value, str)}
GCE_NAME = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
# Validation is pure: the provider's clients are built but never called (nothing listens on port 9).
PROVIDER = plugin.create(ProviderSettings("fuzz", {"gcp_project": "p", "gcp_region": "r",
                                                   "gcp_endpoint": "http://127.0.0.1:9"}))


def spec(annotations: dict[str, str], *, internal: bool = True,
         requested_ips: tuple[str, ...] = ()) -> LoadBalancerSpec:
    return LoadBalancerSpec(service=ServiceRef("default", "web"), uid="u", ports=(Port(80, Protocol.TCP, 30080),),
                            backends=(), health_check=KUBE_PROXY_HEALTH_CHECK, internal=internal,
                            requested_ips=requested_ips, annotations=annotations)


@settings(max_examples=300)
@given(annotation_maps(NAMES), st.booleans(), st.booleans())
def test_validate_and_read_options_never_raise_and_name_every_problem(
        annotations: dict[str, str], internal: bool, requested: bool) -> None:
    the_spec = spec(annotations, internal=internal, requested_ips=("10.0.0.9",) if requested else ())
    problems = g.validate(the_spec)
    options = g.read_options(annotations)
    for problem in problems:
        assert problem.reason in (p.INVALID_ANNOTATION, p.UNSUPPORTED_OPTION)
        assert problem.field in (*(f"metadata.annotations[{name}]" for name in annotations), "spec.loadBalancerIP")
    if not any(problem.fatal for problem in problems):
        # What reaches GCE is a valid name, read exactly as written (around ASCII spaces).
        assert options.subnet is None or GCE_NAME.fullmatch(options.subnet)
        assert all(GCE_NAME.fullmatch(name) for name in options.address_names)


@settings(max_examples=300)
@given(services(NAMES))
def test_translation_and_the_providers_checks_never_raise_for_any_service(service: dict[str, Any]) -> None:
    result = plan(translate(service, ()), PROVIDER)
    assert all(problem.reason in KNOWN_REASONS for problem in result.problems)


@given(annotation_values())
def test_global_access_is_exactly_true_or_false_or_named(value: str) -> None:
    problems = g.validate(spec({g.GLOBAL_ACCESS: value}))
    word = trimmed(value)
    assert g.read_options({g.GLOBAL_ACCESS: value}).global_access is (word == "true")
    assert bool(problems) is (word not in ("true", "false"))


@given(st.one_of(st.from_regex(GCE_NAME, fullmatch=True), annotation_values()))
def test_a_subnet_is_a_gce_name_read_exactly_or_named(value: str) -> None:
    problems = g.validate(spec({g.SUBNET: value}))
    valid = GCE_NAME.fullmatch(trimmed(value)) is not None
    assert [(x.field, x.fatal) for x in problems] == ([] if valid else [(f"metadata.annotations[{g.SUBNET}]", True)])
    if valid:
        assert g.read_options({g.SUBNET: value}).subnet == trimmed(value)


@given(st.lists(st.from_regex(GCE_NAME, fullmatch=True), min_size=1, max_size=2), st.sampled_from([",", ", ", " ,\n"]))
def test_address_names_gce_accepts_are_read_exactly(names: list[str], separator: str) -> None:
    annotations = {g.IP_ADDRESSES: separator.join(names)}
    assert g.validate(spec(annotations)) == []
    assert g.read_options(annotations).address_names == tuple(names)


@given(annotation_values())
def test_address_names_are_gce_names_or_named(value: str) -> None:
    problems = g.validate(spec({g.IP_ADDRESSES: value}))
    names = [trimmed(part) for part in value.split(",") if trimmed(part)]
    valid = 1 <= len(names) <= g.MAX_ADDRESS_NAMES and all(GCE_NAME.fullmatch(name) for name in names)
    assert bool(problems) is not valid
    assert all((x.field, x.fatal) == (f"metadata.annotations[{g.IP_ADDRESSES}]", True) for x in problems)
