"""An HTTP proxy in front of moto that fails one chosen AWS call, as AWS itself answers a failed call.

Faults are injected on the wire, not by patching boto3: the provider's real
clients send real requests, and the n-th one gets an AWS error document back.
"""

from __future__ import annotations

import http.client
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SERVICE_IN_CREDENTIAL = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


class FaultyProxy:
    def __init__(self, upstream: str) -> None:
        parsed = urllib.parse.urlsplit(upstream)
        self._upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self._lock = threading.Lock()
        self._fail_at: int | None = None
        self._lose_at: int | None = None
        # Load balancers created through the proxy since lose_answer(), by name (see _handle).
        self._created: set[str] = set()
        self._code = "InjectedFault"
        self.calls: list[str] = []
        # The form parameters of every request, to check batch sizes on the wire.
        self.requests: list[dict[str, list[str]]] = []
        self.failed: str | None = None
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                proxy._handle(self)

            def do_GET(self) -> None:
                proxy._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_call(self, number: int | None, code: str = "InjectedFault") -> None:
        """Fail the ``number``-th call from now (1-based) with error ``code``; None passes everything through.

        ``InjectedFault`` is a 400 that botocore does not retry; ``Throttling`` is one it retries.
        """
        with self._lock:
            self._lose_at = None
            self._fail_at = number
            self._code = code
            self.calls = []
            self.requests = []
            self.failed = None

    def lose_answer(self, number: int | None) -> None:
        """Send the ``number``-th call from now to AWS, then answer 500 as if the answer was lost on the way.

        AWS did the write; botocore retries the 500, and the retry meets "already exists" or "not found".
        """
        with self._lock:
            self._fail_at = None
            self._lose_at = number
            self._created = set()
            self.calls = []
            self.requests = []
            self.failed = None

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        params = urllib.parse.parse_qs(body.decode())
        action = params.get("Action", ["?"])[0]
        service_match = SERVICE_IN_CREDENTIAL.search(request.headers.get("Authorization", ""))
        service = service_match.group(1) if service_match else "?"
        with self._lock:
            self.calls.append(f"{service}:{action}")
            self.requests.append(params)
            fail = self._fail_at is not None and len(self.calls) == self._fail_at
            lose = self._lose_at is not None and len(self.calls) == self._lose_at
            if fail or lose:
                self.failed = f"{service}:{action}"
            code = self._code
            name = (params.get("Name") or params.get("LoadBalancerName") or [""])[0]
            # moto creates a second load balancer with the same name; AWS answers a repeated
            # CreateLoadBalancer with the existing one (same settings) or DuplicateLoadBalancerName.
            # The proxy answers the latter, so that a retried create is tested against AWS's behaviour.
            duplicate = self._lose_at is not None and action == "CreateLoadBalancer" and name in self._created
        if duplicate:
            self._answer_with_error(request, service, "DuplicateLoadBalancerName")
            return
        if fail:
            self._answer_with_error(request, service, code)
            return
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        connection.request(request.command, request.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        connection.close()
        if action == "CreateLoadBalancer" and response.status < 300:
            with self._lock:
                self._created.add(name)
        if lose:
            self._answer_with_error(request, service, "InternalError", status=500)
            return
        request.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    @staticmethod
    def _answer_with_error(request: BaseHTTPRequestHandler, service: str, code: str, status: int = 400) -> None:
        # A 400, shaped as each API family shapes its errors.
        error = f"<Code>{code}</Code><Message>injected by the test proxy</Message>"
        if service == "ec2":
            document = f"<Response><Errors><Error>{error}</Error></Errors><RequestID>1</RequestID></Response>"
        else:
            document = (f"<ErrorResponse><Error><Type>Sender</Type>{error}</Error>"
                        "<RequestId>1</RequestId></ErrorResponse>")
        payload = document.encode()
        request.send_response(status)
        request.send_header("Content-Type", "text/xml")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
