"""/readyz waits for the start-up checks; /metrics says which version runs, who leads, and how the cloud answers."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request

import pytest
from cloudlb_example import ExampleProvider

from cloudlb.cloudapi import CloudApi, CloudCall, Outcome
from cloudlb.config import ControllerConfig, LeaderElection
from cloudlb.kubeapi import EmulatedKubernetes
from cloudlb.metrics import Metrics
from cloudlb.operator import run_async
from cloudlb.testing import wait_for
from tests.cli.support import free_port

pytestmark = pytest.mark.timeout(60)


class SlowToCheck(ExampleProvider):
    """A provider whose start-up check takes as long as the test wants (a slow cloud API, say)."""

    def __init__(self, passed: threading.Event) -> None:
        super().__init__("test")
        self.passed = passed

    def check(self) -> None:
        assert self.passed.wait(30)


def status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def test_readyz_is_ready_only_once_the_start_up_checks_passed(kube: EmulatedKubernetes) -> None:
    health, passed, stop = free_port(), threading.Event(), threading.Event()
    config = ControllerConfig(provider="example", cluster_name="test", metrics_port=free_port(), health_port=health,
                              leader_election=LeaderElection(enabled=False), api_server=kube.url)
    metrics = Metrics()
    provider = SlowToCheck(passed)
    runner = threading.Thread(target=lambda: asyncio.run(run_async(config, lambda: provider, stop_flag=stop,
                                                                   metrics=metrics)), daemon=True)
    runner.start()
    try:
        wait_for(lambda: status(f"http://127.0.0.1:{health}/healthz") == 200, message="/healthz")
        assert status(f"http://127.0.0.1:{health}/readyz") == 503  # the provider's check is still running
        passed.set()
        wait_for(lambda: status(f"http://127.0.0.1:{health}/readyz") == 200, message="/readyz after the check")
        exposed = urllib.request.urlopen(f"http://127.0.0.1:{config.metrics_port}/metrics", timeout=5).read().decode()
        assert 'cloudlb_build_info{version="0.1.0"} 1.0' in exposed
        assert "cloudlb_leader 1.0" in exposed  # alone, without leader election, it leads
    finally:
        stop.set()
        runner.join(30)
    assert not runner.is_alive()


def test_every_cloud_request_through_the_gate_is_counted_and_timed() -> None:
    metrics = Metrics()
    api = CloudApi("aws", observer=metrics.observe_cloud_call)
    api.after(CloudCall("aws", "elbv2", "DescribeLoadBalancers", Outcome.SUCCESS, 0.04), "elbv2-read")
    api.after(CloudCall("aws", "elbv2", "DescribeLoadBalancers", Outcome.THROTTLED, 0.3, "Throttling"), "elbv2-read")
    api.after(CloudCall("aws", "ec2", "AuthorizeSecurityGroupIngress", Outcome.CLIENT_ERROR, 0.2,
                        "RulesPerSecurityGroupLimitExceeded"), "ec2-write")

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    describe = {"provider": "aws", "service": "elbv2", "operation": "DescribeLoadBalancers"}
    assert sample("cloudlb_cloud_api_requests_total", **describe, outcome="success") == 1
    assert sample("cloudlb_cloud_api_requests_total", **describe, outcome="throttled") == 1
    assert sample("cloudlb_cloud_api_requests_total", provider="aws", service="ec2",
                  operation="AuthorizeSecurityGroupIngress", outcome="client_error") == 1
    assert sample("cloudlb_cloud_api_request_duration_seconds_count", **describe) == 2
    assert sample("cloudlb_cloud_api_request_duration_seconds_bucket", **describe, le="0.05") == 1
    assert sample("cloudlb_cloud_api_request_duration_seconds_sum", **describe) == pytest.approx(0.34)
