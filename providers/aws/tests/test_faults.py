"""An AWS error at any one call of ``ensure`` or ``delete`` leaks nothing, and the next attempt converges.

Each scenario is first run cleanly to count its calls; then, for every call in
turn, the call fails on the wire, the operation is retried, and the cloud must
look exactly like after a clean run.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cloudlb_aws.provider import AWSProvider
from cloudlb_aws.sandbox import MotoSandbox

from cloudlb.model import LoadBalancerSpec, ServiceRef
from cloudlb.provider import RetryLater, attached_statuses

from . import support as state
from .faults import FaultyProxy
from .support import SpecFactory, backends_of, new_provider

PORTS = [(80, "TCP", 30080), (53, "TCP", 30053), (53, "UDP", 30053)]
MOVED = [(8080, "TCP", 30080), (53, "TCP", 30053), (53, "UDP", 30053)]


def snapshot(sandbox: MotoSandbox) -> tuple[list[str], dict[int, tuple[str, frozenset[str]]]]:
    """Every resource by name, and per listener its protocol and the instances behind it (and, for a
    Classic ELB, its health check)."""
    elbv2 = sandbox.client("elbv2")
    listeners: dict[int, tuple[str, frozenset[str]]] = {}
    for lb in elbv2.describe_load_balancers()["LoadBalancers"]:
        for port, listener in state.listeners(sandbox, lb["LoadBalancerArn"]).items():
            group = listener["DefaultActions"][0]["TargetGroupArn"]
            listeners[port] = (listener["Protocol"], frozenset(state.targets(sandbox, group)))
    for classic in sandbox.client("elb").describe_load_balancers()["LoadBalancerDescriptions"]:
        instances = frozenset(i["InstanceId"] for i in classic["Instances"])
        for description in classic["ListenerDescriptions"]:
            listener = description["Listener"]
            listeners[listener["LoadBalancerPort"]] = (
                f"{listener['Protocol']}->{listener['InstancePort']} {classic['HealthCheck']['Target']}", instances)
    # Security groups get random ids; compare them by name only.
    return sorted(item.split(" (")[-1] if item.startswith("security group") else item.split(" from ")[0]
                  for item in sandbox.leftovers()), listeners


def run_with_each_call_failing(proxy: FaultyProxy, sandbox: MotoSandbox, prepare: Callable[[AWSProvider], None],
                               operation: Callable[[AWSProvider], object], cleanup: Callable[[], None]) -> list[str]:
    """Run ``operation`` once cleanly, then once per call with that call failing; return the failed calls."""
    provider = new_provider()
    prepare(provider)
    proxy.fail_call(None)
    operation(provider)
    clean = snapshot(sandbox)
    total = len(proxy.calls)
    cleanup()
    failed: list[str] = []
    for number in range(1, total + 1):
        provider = new_provider()
        prepare(provider)
        proxy.fail_call(number)
        with pytest.raises(RetryLater, match="InjectedFault"):
            operation(provider)
        assert proxy.failed is not None
        failed.append(proxy.failed)
        proxy.fail_call(None)
        operation(provider)  # the retry, by the same provider as the operator would
        assert snapshot(sandbox) == clean, f"after {proxy.failed} failed (call {number})"
        cleanup()
    return failed


def test_a_failure_at_any_call_of_a_create_leaks_nothing_and_the_retry_converges(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("faulty", PORTS)
    service = ServiceRef("default", "faulty")

    def cleanup() -> None:
        new_provider().delete_service(service)
        assert sandbox.leftovers() == []

    failed = run_with_each_call_failing(proxy, sandbox, lambda _: None, lambda p: p.ensure_service(spec), cleanup)
    assert {"elasticloadbalancing:CreateListener", "elasticloadbalancing:RegisterTargets",
            "ec2:CreateSecurityGroup", "elasticloadbalancing:CreateTargetGroup"} <= set(failed)


def test_a_failure_at_any_call_of_an_update_leaks_nothing_and_the_retry_converges(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    before = make_spec("moving", PORTS, backends=backends_of(sandbox, 2))
    after = make_spec("moving", MOVED, source_ranges=("10.0.0.0/8",))

    def prepare(provider: AWSProvider) -> None:
        proxy.fail_call(None)
        provider.ensure_service(before)

    def cleanup() -> None:
        new_provider().delete_service(before.service)
        assert sandbox.leftovers() == []

    failed = run_with_each_call_failing(proxy, sandbox, prepare, lambda p: p.ensure_service(after), cleanup)
    assert {"elasticloadbalancing:DeleteListener", "elasticloadbalancing:DeleteTargetGroup",
            "ec2:RevokeSecurityGroupIngress"} <= set(failed)


def test_a_failure_at_any_call_of_a_delete_is_finished_by_the_retry(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec: LoadBalancerSpec = make_spec("leaving", PORTS)

    def prepare(provider: AWSProvider) -> None:
        proxy.fail_call(None)
        provider.ensure_service(spec)

    failed = run_with_each_call_failing(proxy, sandbox, prepare, lambda p: p.delete_service(spec.service), lambda: None)
    assert {"elasticloadbalancing:DeleteLoadBalancer", "ec2:DeleteSecurityGroup"} <= set(failed)
    assert sandbox.leftovers() == []


def test_a_failure_at_any_call_of_a_classic_elb_create_leaks_nothing_and_the_retry_converges(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("faultyclb", [(80, "TCP", 30080), (443, "TCP", 30443)],
                     annotations={"service.beta.kubernetes.io/aws-load-balancer-type": "clb"})

    def cleanup() -> None:
        new_provider().delete_service(spec.service)
        assert sandbox.leftovers() == []

    failed = run_with_each_call_failing(proxy, sandbox, lambda _: None, lambda p: p.ensure_service(spec), cleanup)
    assert {"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:ConfigureHealthCheck",
            "elasticloadbalancing:RegisterInstancesWithLoadBalancer"} <= set(failed)


def run_with_each_answer_lost(proxy: FaultyProxy, sandbox: MotoSandbox, prepare: Callable[[AWSProvider], object],
                              operation: Callable[[AWSProvider], object], cleanup: Callable[[], None]) -> list[str]:
    """Run ``operation`` once cleanly, then once per write with AWS doing it but its answer lost (a 500 that
    botocore retries): the operation must succeed as it is, with the cloud as after a clean run."""
    provider = new_provider()
    prepare(provider)
    proxy.fail_call(None)
    operation(provider)
    clean = snapshot(sandbox)
    total = len(proxy.calls)
    cleanup()
    lost: list[str] = []
    for number in range(1, total + 1):
        provider = new_provider()
        prepare(provider)
        proxy.lose_answer(number)
        operation(provider)  # no error: "already exists" or "not found" for what is ours is success
        assert proxy.failed is not None
        lost.append(proxy.failed)
        proxy.fail_call(None)
        assert snapshot(sandbox) == clean, f"after the answer to {proxy.failed} was lost (call {number})"
        cleanup()
    return [call for call in lost if "Describe" not in call]


def test_a_lost_answer_to_any_write_of_a_create_is_success(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("lost", PORTS)

    def cleanup() -> None:
        new_provider().delete_service(spec.service)
        assert sandbox.leftovers() == []

    lost = run_with_each_answer_lost(proxy, sandbox, lambda p: p.sweep(), lambda p: p.ensure_service(spec), cleanup)
    assert {"ec2:CreateSecurityGroup", "ec2:AuthorizeSecurityGroupIngress", "elasticloadbalancing:CreateLoadBalancer",
            "elasticloadbalancing:CreateTargetGroup", "elasticloadbalancing:CreateListener",
            "elasticloadbalancing:RegisterTargets"} <= set(lost)


def test_a_lost_answer_to_any_write_of_a_delete_is_success(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("lostdelete", PORTS)

    def prepare(provider: AWSProvider) -> None:
        proxy.fail_call(None)
        provider.ensure_service(spec)

    lost = run_with_each_answer_lost(proxy, sandbox, prepare, lambda p: p.delete_service(spec.service), lambda: None)
    assert {"elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup",
            "ec2:DeleteSecurityGroup", "ec2:RevokeSecurityGroupIngress"} <= set(lost)
    assert sandbox.leftovers() == []


def test_a_create_that_fails_after_the_load_balancer_exists_reports_its_address(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    """Issue 12.2: a billed load balancer is never left without a status naming it while its listeners fail."""
    spec = make_spec("halfway", PORTS)
    proxy.fail_call(None)
    new_provider().ensure_service(spec)
    listener_call = proxy.calls.index("elasticloadbalancing:CreateListener") + 1
    new_provider().delete_service(spec.service)
    assert sandbox.leftovers() == []

    proxy.fail_call(listener_call)
    with pytest.raises(RetryLater, match="InjectedFault") as raised:
        new_provider().ensure_service(spec)
    assert proxy.failed == "elasticloadbalancing:CreateListener"
    created = sandbox.client("elbv2").describe_load_balancers()["LoadBalancers"]
    assert len(created) == 1
    status = attached_statuses(raised.value)[spec.service]
    assert [entry.hostname for entry in status.ingress] == [created[0]["DNSName"]]
    proxy.fail_call(None)
    new_provider().delete_service(spec.service)
    assert sandbox.leftovers() == []


def test_a_create_that_fails_before_the_load_balancer_exists_reports_nothing(
        proxy: FaultyProxy, sandbox: MotoSandbox, make_spec: SpecFactory) -> None:
    spec = make_spec("early", PORTS)
    proxy.fail_call(None)
    new_provider().ensure_service(spec)
    group_call = proxy.calls.index("elasticloadbalancing:CreateTargetGroup") + 1
    new_provider().delete_service(spec.service)

    proxy.fail_call(group_call)
    with pytest.raises(RetryLater) as raised:
        new_provider().ensure_service(spec)
    assert sandbox.client("elbv2").describe_load_balancers()["LoadBalancers"] == []
    assert attached_statuses(raised.value) == {}
    proxy.fail_call(None)
    new_provider().delete_service(spec.service)
    assert sandbox.leftovers() == []
