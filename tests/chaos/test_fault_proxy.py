"""The chaos run's cloud fault proxy does what its figures claim: seeded faults, and lost responses that did execute."""

from __future__ import annotations

import http.client
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.chaos.cloud_faults import FAULT_KINDS, FaultDecider, FaultyDoor, Request, classify_aws, classify_gcp


def _request(body: bytes, method: str = "POST", path: str = "/") -> Request:
    return Request(method, path, body, {})


def test_a_seed_gives_the_same_requests_the_same_faults() -> None:
    bodies = [f"Action=CreateLoadBalancer&Name=lb-{n}".encode() for n in range(2000)]
    first, second = FaultDecider(seed=7, rate=0.1), FaultDecider(seed=7, rate=0.1)
    # The second sees the requests in another order: the faults follow the requests, not the order.
    one = {body: first.decide(_request(body)) for body in bodies}
    two = {body: second.decide(_request(body)) for body in reversed(bodies)}
    assert one == two
    assert one != {body: FaultDecider(seed=8, rate=0.1).decide(_request(body)) for body in bodies}


def test_the_rate_and_every_kind_of_fault() -> None:
    decider = FaultDecider(seed=1, rate=0.1)
    drawn = Counter(decider.decide(_request(f"Action=Describe&N={n}".encode())) for n in range(20000))
    assert 0.09 < 1 - drawn[""] / 20000 < 0.11
    assert set(drawn) - {""} == set(FAULT_KINDS)
    assert FaultDecider(seed=1, rate=0.0).decide(_request(b"x")) == ""


def test_a_retry_of_the_same_request_draws_again() -> None:
    decider = FaultDecider(seed=3, rate=0.5)
    outcomes = {decider.decide(_request(b"Action=DeleteLoadBalancer&Name=x")) for _ in range(64)}
    assert "" in outcomes and len(outcomes) > 1


def test_requests_are_told_apart_by_operation() -> None:
    create = classify_aws(_request(b"Action=CreateLoadBalancer&Version=2015-12-01&Name=cl-x"))
    assert (create.operation, create.write) == ("elbv2:CreateLoadBalancer", True)
    assert "Name=cl-x" in create.text
    assert classify_aws(_request(b"Action=DescribeLoadBalancers&Version=2012-06-01")).write is False
    assert classify_aws(_request(b"Action=AuthorizeSecurityGroupIngress&Version=2016-11-15")).operation == \
        "ec2:AuthorizeSecurityGroupIngress"
    base = "/compute/v1/projects/p/regions/r/forwardingRules"
    assert classify_gcp(_request(b"{}", "POST", base)).operation == "forwardingRules.insert"
    assert classify_gcp(_request(b"", "DELETE", base + "/clb-x")).operation == "forwardingRules.delete"
    added = classify_gcp(_request(b"{}", "POST", "/compute/v1/projects/p/zones/z/instanceGroups/g/addInstances"))
    assert (added.operation, added.write) == ("instanceGroups.addInstances", True)
    assert classify_gcp(_request(b"", "POST", "/compute/v1/projects/p/regions/r/operations/op-1/wait")).write is False


class _Counting(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    executed: list[bytes]

    def do_POST(self) -> None:
        self.executed.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def upstream() -> Iterator[tuple[str, list[bytes]]]:
    executed: list[bytes] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Bound", (_Counting,), {"executed": executed}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", executed
    server.shutdown()
    server.server_close()


def _send(url: str, body: bytes) -> int | str:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("POST", "/", body=body)
        return connection.getresponse().status
    except (ConnectionError, http.client.HTTPException) as exc:
        return type(exc).__name__
    finally:
        connection.close()


def test_a_lost_response_was_executed_and_a_reset_was_not(upstream: tuple[str, list[bytes]]) -> None:
    url, executed = upstream
    door = FaultyDoor(url, "aws", seed=1, rate=1.0)  # every request fails: which way is the decider's
    try:
        outcomes: dict[str, list[int | str]] = {}
        for n in range(60):
            body = f"Action=CreateLoadBalancer&Version=2015-12-01&Name=lb-{n}".encode()
            kind = FaultDecider(seed=1, rate=1.0).decide(_request(body))  # what the door draws for its first sight
            before = len(executed)
            outcome = _send(door.url, body)
            outcomes.setdefault(kind, []).append(outcome)
            assert (len(executed) > before) == (kind == "lost"), (kind, outcome)
        assert all(isinstance(o, str) for o in outcomes["lost"] + outcomes["reset"])  # no answer at all
        assert set(outcomes["500"]) == {500} and set(outcomes["503"]) == {503} and set(outcomes["throttled"]) == {400}
    finally:
        door.close()
