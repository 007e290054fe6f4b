"""Annotations the AWS provider does not honour, through the running operator: each gets a Warning, the
Service still gets its load balancer. kopf against the emulated Kubernetes API over HTTP, boto3 against moto.

Which annotations are honoured is read from the provider's capabilities (another issue makes more of them
honoured); only the misspelt one is unhonoured by construction.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from cloudlb_aws import annotations as a
from cloudlb_aws.capabilities import CAPABILITIES
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb import problems as p
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.testing import node_manifest, run_controller, service_manifest

from . import support as state
from .support import CLUSTER, nlb_name

pytestmark = pytest.mark.timeout(90)
POOL_LABEL = ("cloudlb-test/pool", "web")
TYPO = a.PREFIX + "typo"


@pytest.fixture
def kube(sandbox: MotoSandbox) -> Iterator[EmulatedKubernetes]:
    with EmulatedKubernetes() as emulated:
        for instance in sandbox.instances[:2]:
            emulated.create(node_manifest(instance.name, provider_id=instance.provider_id,
                                          internal_ip=instance.internal_ip, zone=instance.zone,
                                          labels=dict([POOL_LABEL])))
        yield emulated


def upstream_annotations(sandbox: MotoSandbox) -> dict[str, str]:
    """aws-load-balancer-controller's annotations, with values that stay valid should they become honoured."""
    return {
        a.PREFIX + "security-groups": sandbox.node_group_id,
        a.PREFIX + "target-node-labels": "=".join(POOL_LABEL),
        a.PREFIX + "proxy-protocol": "*",
        a.PREFIX + "connection-idle-timeout": "60",
        a.PREFIX + "nlb-target-type": "instance",
        TYPO: "nlb",
    }


def field(name: str) -> str:
    return f"metadata.annotations[{name}]"


def test_each_unhonoured_annotation_gets_a_warning_and_the_service_its_load_balancer(
        kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    annotations = upstream_annotations(sandbox)
    assert TYPO not in CAPABILITIES.annotations
    unhonoured = {name for name in annotations if name not in CAPABILITIES.annotations}
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("web", annotations=annotations))
        ctl.wait_for_ingress("default", "web")
        lb = state.load_balancer(sandbox, nlb_name("web"))
        assert lb is not None

        def all_named() -> dict[str, dict[str, Any]] | None:
            # Each message starts with the field it names, e.g. "metadata.annotations[...]: ...".
            found = {str(event["message"]).split(": ", 1)[0]: event for event in ctl.events("default", "web")
                     if event.get("reason") == p.UNSUPPORTED_ANNOTATION}
            return found if found.keys() >= {field(name) for name in unhonoured} else None

        warnings = ctl.wait_for(all_named, message=f"a Warning for each of {sorted(unhonoured)}")
        assert set(warnings) == {field(name) for name in unhonoured}, "honoured annotations get no such Warning"
        assert all(event["type"] == "Warning" for event in warnings.values())
        assert warnings[field(TYPO)]["message"].endswith(f"(did you mean {a.TYPE}?)")
        for name in unhonoured - {TYPO}:
            assert "did you mean" not in warnings[field(name)]["message"], name
        ctl.wait_for(lambda: "EnsuredLoadBalancer" in ctl.event_reasons("default", "web"), message="Ensured")

        kube.delete("v1", "services", "default", "web")
        ctl.wait_for(lambda: ctl.service("default", "web") is None, message="the Service to be gone")
        assert sandbox.leftovers() == []


def test_an_unhonoured_cloudlb_io_annotation_is_named_too(kube: EmulatedKubernetes, sandbox: MotoSandbox) -> None:
    with run_controller(kube, provider="aws", cluster_name=CLUSTER, environment=sandbox.environment) as ctl:
        kube.create(service_manifest("plain", annotations={"cloudlb.io/made-up": "x", a.TYPE: "nlb"}))
        ctl.wait_for_ingress("default", "plain")
        ctl.wait_for(lambda: p.UNSUPPORTED_ANNOTATION in ctl.event_reasons("default", "plain"), message="a Warning")
        assert [event["message"] for event in ctl.events("default", "plain")
                if event.get("reason") == p.UNSUPPORTED_ANNOTATION] == [
            f"{field('cloudlb.io/made-up')}: cloudlb does not honour this annotation; it is ignored"]

        kube.delete("v1", "services", "default", "plain")
        ctl.wait_for(lambda: ctl.service("default", "plain") is None, message="the Service to be gone")
        assert sandbox.leftovers() == []
