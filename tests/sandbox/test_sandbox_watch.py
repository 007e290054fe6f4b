"""The sandbox's convergence watch and its refusals, in-process."""

from __future__ import annotations

import threading

import pytest
from click.testing import CliRunner

from cloudlb.cli import main
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.sandbox.command import _watch
from cloudlb.sandbox.demo import demo_services
from cloudlb.sandbox.table import is_converged, render, state_of


def test_once_gives_up_with_a_clear_message_when_nothing_converges(capsys: pytest.CaptureFixture[str]) -> None:
    with EmulatedKubernetes() as kube:  # no controller runs: the demo Services can never converge
        for service in demo_services()[:2]:
            kube.create(service)
        code = _watch(kube, once=True, timeout=1.0, stop=threading.Event())
    assert code == 1
    error = capsys.readouterr().err
    assert "ERROR: not converged after 1s:" in error
    assert "web" in error and "dns" in error


def test_states_in_the_table() -> None:
    pending = {"metadata": {"namespace": "d", "name": "a"}, "spec": {"ports": [{"port": 80}]}}
    ready = {**pending, "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]},
                                   "conditions": [{"type": "cloudlb.io/LoadBalancerSynced", "status": "True"}]}}
    rejected = {**pending, "status": {"conditions": [{"type": "cloudlb.io/LoadBalancerSynced", "status": "False",
                                                      "reason": "InvalidSourceRange", "message": "bad"}]}}
    retrying = {**pending, "status": {"conditions": [{"type": "cloudlb.io/LoadBalancerSynced", "status": "False",
                                                      "reason": "RetryingAfterError", "message": "throttled"}]}}
    assert [state_of(s) for s in (pending, ready, rejected, retrying)] == ["Pending", "Ready", "Rejected", "Retrying"]
    assert [is_converged(s) for s in (pending, ready, rejected, retrying)] == [False, True, True, False]
    table = render([ready, rejected])
    assert "203.0.113.1" in table and "InvalidSourceRange: bad" in table


def test_sandbox_refuses_a_provider_without_an_emulated_cloud_and_once_without_demo() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["sandbox", "--provider", "example", "--demo", "--once"])
    assert result.exit_code == 2 and "offers no emulated cloud" in result.output
    result = runner.invoke(main, ["sandbox", "--once"])
    assert result.exit_code == 2 and "--once goes with --demo" in result.output
