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
            self._fail_at = number
            self._code = code
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
            if fail:
                self.failed = f"{service}:{action}"
            code = self._code
        if fail:
            self._answer_with_error(request, service, code)
            return
        connection = http.client.HTTPConnection(*self._upstream, timeout=30)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        connection.request(request.command, request.path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        request.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                request.send_header(key, value)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
        connection.close()

    @staticmethod
    def _answer_with_error(request: BaseHTTPRequestHandler, service: str, code: str) -> None:
        # A 400, shaped as each API family shapes its errors.
        error = f"<Code>{code}</Code><Message>injected by the test proxy</Message>"
        if service == "ec2":
            document = f"<Response><Errors><Error>{error}</Error></Errors><RequestID>1</RequestID></Response>"
        else:
            document = (f"<ErrorResponse><Error><Type>Sender</Type>{error}</Error>"
                        "<RequestId>1</RequestId></ErrorResponse>")
        payload = document.encode()
        request.send_response(400)
        request.send_header("Content-Type", "text/xml")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
