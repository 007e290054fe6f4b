"""Unhonoured annotations in a provider's namespaces: each named, with a guess for a near miss, never fatal."""

from __future__ import annotations

from typing import Any

import pytest
from cloudlb_aws.capabilities import CAPABILITIES as AWS
from cloudlb_example import ExampleProvider
from cloudlb_gcp.capabilities import CAPABILITIES as GCP
from hypothesis import given

from cloudlb import problems as p
from cloudlb.annotations import CLOUDLB_PREFIX, CORE_ANNOTATIONS, unhonoured_annotations
from cloudlb.model import Protocol
from cloudlb.plan import plan
from cloudlb.provider import Capabilities, Offering
from cloudlb.sharing import SHARE_KEY_ANNOTATION
from cloudlb.strategies import annotation_maps
from cloudlb.translate import translate

OFFERINGS = (Offering("lb", "a load balancer", frozenset({Protocol.TCP})),)
EXAMPLE = Capabilities(OFFERINGS, annotation_prefixes=("example.com/lb-", "lb.example.com/"),
                       annotations=frozenset({"example.com/lb-type", "example.com/lb-idle-timeout",
                                              "lb.example.com/subnet"}))
AWS_PREFIX = "service.beta.kubernetes.io/aws-load-balancer-"


def named(annotations: dict[str, str], capabilities: Capabilities = EXAMPLE) -> dict[str, str]:
    found = unhonoured_annotations(annotations, capabilities)
    assert all((x.reason, x.fatal, x.port) == (p.UNSUPPORTED_ANNOTATION, False, None) for x in found)
    return {x.field.removeprefix("metadata.annotations[").removesuffix("]"): x.message for x in found}


def test_only_unhonoured_annotations_in_the_providers_namespaces_are_named() -> None:
    found = named({"example.com/lb-type": "a", "example.com/lb-proxy-protocol": "*", "lb.example.com/zone": "b",
                   "example.com/other": "c", "service.beta.kubernetes.io/load-balancer-source-ranges": "d",
                   "kubectl.kubernetes.io/last-applied-configuration": "{}"})
    assert sorted(found) == ["example.com/lb-proxy-protocol", "lb.example.com/zone"]
    assert all("does not honour" in message and "ignored" in message for message in found.values())


def test_cloudlb_io_is_every_providers_namespace() -> None:
    no_prefixes = Capabilities(OFFERINGS)
    assert sorted(named({"cloudlb.io/made-up": "x", "example.cloudlb.io/idle-timeout": "5"}, no_prefixes)) == [
        "cloudlb.io/made-up"]


def test_what_the_core_honours_under_cloudlb_io_is_not_named() -> None:
    assert SHARE_KEY_ANNOTATION in CORE_ANNOTATIONS
    assert all(name.startswith(CLOUDLB_PREFIX) for name in CORE_ANNOTATIONS)
    found = named({SHARE_KEY_ANNOTATION: "x", "cloudlb.io/share-keys": "x"}, Capabilities(OFFERINGS))
    assert found == {"cloudlb.io/share-keys": "cloudlb does not honour this annotation; it is ignored "
                                              f"(did you mean {SHARE_KEY_ANNOTATION}?)"}


@pytest.mark.parametrize(("name", "guess"), [
    ("example.com/lb-typo", "example.com/lb-type"),
    ("example.com/lb-Type", "example.com/lb-type"),
    ("example.com/lb-idle-timout", "example.com/lb-idle-timeout"),
    ("example.com/lb-subnet", "lb.example.com/subnet"),  # the right option under the other namespace
    ("lb.example.com/subnets", "lb.example.com/subnet"),
    ("example.com/lb-proxy-protocol", None),
    ("example.com/lb-target-type", None),
    ("example.com/lb-", None),
])
def test_a_near_miss_gets_a_guess_and_a_different_feature_none(name: str, guess: str | None) -> None:
    message = named({name: "x"})[name]
    if guess is None:
        assert "did you mean" not in message
    else:
        assert message.endswith(f"(did you mean {guess}?)")


@pytest.mark.parametrize(("name", "guess"), [
    (AWS_PREFIX + "typo", AWS_PREFIX + "type"),
    (AWS_PREFIX + "healthcheck-intervall", AWS_PREFIX + "healthcheck-interval"),
    (AWS_PREFIX + "internl", AWS_PREFIX + "internal"),
    (AWS_PREFIX + "alpn-policy", None),
    (AWS_PREFIX + "manage-backend-security-group-rules", None),
    (AWS_PREFIX + "security-group-prefix-lists", None),
    (AWS_PREFIX + "security-groupz", AWS_PREFIX + "security-groups"),
])
def test_guesses_over_the_aws_providers_honoured_annotations(name: str, guess: str | None) -> None:
    if name in AWS.annotations:
        pytest.skip(f"{name} is honoured now")
    message = named({name: "x"}, AWS)[name]
    assert (f"(did you mean {guess}?)" in message) if guess else ("did you mean" not in message)


@pytest.mark.parametrize(("name", "guess"), [
    ("networking.gke.io/load-balancer-typ", "networking.gke.io/load-balancer-type"),
    ("cloud.google.com/internal-load-balancer-subnet", "networking.gke.io/internal-load-balancer-subnet"),
    ("cloud.google.com/l4-rbs", None),
    ("networking.gke.io/weighted-load-balancing", None),
])
def test_guesses_over_the_gcp_providers_honoured_annotations(name: str, guess: str | None) -> None:
    if name in GCP.annotations:
        pytest.skip(f"{name} is honoured now")
    message = named({name: "x"}, GCP)[name]
    assert (f"(did you mean {guess}?)" in message) if guess else ("did you mean" not in message)


@given(annotation_maps([*sorted(EXAMPLE.annotations), "example.com/lb-x", "lb.example.com/", "cloudlb.io/x"]))
def test_exactly_the_unhonoured_names_of_the_namespaces_are_named_in_order(annotations: dict[str, str]) -> None:
    found = unhonoured_annotations(annotations, EXAMPLE)
    expected = sorted(name for name in annotations
                      if name.startswith(("example.com/lb-", "lb.example.com/", "cloudlb.io/"))
                      and name not in EXAMPLE.annotations)
    assert [x.field for x in found] == [f"metadata.annotations[{name}]" for name in expected]


def service(annotations: dict[str, str]) -> dict[str, Any]:
    return {"metadata": {"name": "web", "namespace": "default", "annotations": annotations},
            "spec": {"type": "LoadBalancer", "ports": [{"port": 80, "protocol": "TCP", "nodePort": 30080}]}}


def test_plan_names_them_beside_the_other_problems_and_they_stop_nothing() -> None:
    the_plan = plan(translate(service({"cloudlb.io/typo": "x", "example.cloudlb.io/idle-timeout": "5"}), ()),
                    ExampleProvider("c"))
    assert [(x.field, x.reason, x.fatal) for x in the_plan.problems] == [
        ("metadata.annotations[cloudlb.io/typo]", p.UNSUPPORTED_ANNOTATION, False)]
    assert the_plan.fatal == () and [port.port for port in the_plan.spec.ports] == [80]
