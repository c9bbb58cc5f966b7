"""A fault-injecting HTTP proxy on loopback, between an AWS SDK and a moto server.

The SDK reaches it through AWS_ENDPOINT_URL. Each request is matched on the service and region of
its signature's credential scope and on its operation (the `Action` of a query-protocol form, the
`X-Amz-Target` of a JSON-protocol request); the first matching rule decides what happens to it:

- "deny": 403 with the API's own access-denied error;
- "throttle": the API's own throttling error;
- "html500": a 500 answered with an HTML page, as a load balancer or proxy in front of AWS sends;
- "xhtml500": the same with a page that is well-formed XML;
- "hang": the connection is accepted and held, never answered;
- anything else, or no rule: passed through to the upstream server.

Every request seen is counted per (service, operation), so tests can tell how often a call was tried.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# An error page as proxies and load balancers send them: HTML, which is not well-formed XML (the
# <meta> and <br> are never closed), so an XML-protocol SDK cannot parse it at all ...
HTML_ERROR_PAGE = (b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>500 Internal Server Error</title>"
                   b"<style>" + b"body { font-family: sans-serif; margin: 2em; }\n" * 40 + b"</style></head>\n"
                   b"<body><h1>Internal Server Error</h1><p>Please try again later.<br></p></body></html>\n")
# ... and one that happens to be well-formed XHTML: parsed, but no AWS error document.
XHTML_ERROR_PAGE = (b"<html><head><title>500 Internal Server Error</title></head>\n"
                    b"<body><h1>Internal Server Error</h1></body></html>\n")
# EC2 has its own error document; the other query-protocol APIs (IAM, STS, ELB, Auto Scaling) share one.
EC2_ERROR = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code>"
             "<Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>")
QUERY_ERROR = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse><Error><Type>Sender</Type>"
               "<Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId>"
               "</ErrorResponse>")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Rule:
    """What to do with the requests of `service` ("*": any) in `region` ("*": any) calling
    `operation` ("*": any)."""

    fault: str
    service: str = "*"
    operation: str = "*"
    region: str = "*"
    body_contains: str = ""  # only requests whose body holds this text (a role ARN, say)

    def matches(self, service: str, operation: str, region: str, body: bytes = b"") -> bool:
        return all(want in ("*", have) for want, have in
                   ((self.service, service), (self.operation, operation), (self.region, region))) and (
            self.body_contains.encode() in body)


class FaultProxy:
    """The proxy, serving on a free loopback port from a thread until stop()."""

    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.rules: list[Rule] = []
        self.seen: Counter[tuple[str, str]] = Counter()
        self.release = threading.Event()  # lets held connections go when the proxy stops
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="fault-proxy", daemon=True)

    def start(self) -> "FaultProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)

    def rule_for(self, service: str, operation: str, region: str, body: bytes = b"") -> Rule | None:
        return next((rule for rule in self.rules if rule.matches(service, operation, region, body)), None)


def request_identity(headers, body: bytes) -> tuple[str, str, str]:
    """(service, operation, region) of a signed AWS request."""
    scope = re.search(r"Credential=[^/]+/\d+/([^/]+)/([^/]+)/aws4_request", headers.get("Authorization", ""))
    region, service = scope.groups() if scope else ("", "")
    target = headers.get("X-Amz-Target")
    if target:
        operation = target.rsplit(".", 1)[-1]
    else:
        operation = (parse_qs(body.decode("utf-8", "replace")).get("Action") or [""])[0]
    return service, operation, region


def fault_reply(fault: str, service: str, operation: str, json_protocol: bool) -> tuple[int, str, bytes]:
    """(status, content type, body) of an injected error, in the API's own shape."""
    if fault in ("html500", "xhtml500"):
        return 500, "text/html", HTML_ERROR_PAGE if fault == "html500" else XHTML_ERROR_PAGE
    denied = fault == "deny"
    if json_protocol:
        code = "AccessDeniedException" if denied else "ThrottlingException"
        message = f"not authorized to perform: {service}:{operation}" if denied else "Rate exceeded"
        return 400, "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()
    if service == "ec2":
        code, status = ("UnauthorizedOperation", 403) if denied else ("RequestLimitExceeded", 503)
        message = "You are not authorized to perform this operation." if denied else "Request limit exceeded."
        return status, "text/xml", EC2_ERROR.format(code=code, message=message).encode()
    code, status = ("AccessDenied", 403) if denied else ("Throttling", 400)
    message = f"User is not authorized to perform: {service}:{operation}" if denied else "Rate exceeded"
    return status, "text/xml", QUERY_ERROR.format(code=code, message=message).encode()


def _handler_for(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args) -> None:  # quiet: the test output is not the place
            pass

        def do_GET(self) -> None:
            self.handle_request()

        def do_POST(self) -> None:
            self.handle_request()

        def handle_request(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            service, operation, region = request_identity(self.headers, body)
            proxy.seen[(service, operation)] += 1
            rule = proxy.rule_for(service, operation, region, body)
            fault = rule.fault if rule else "pass"
            if fault == "hang":
                proxy.release.wait()
                self.close_connection = True
                return
            if fault in ("deny", "throttle", "html500", "xhtml500"):
                status, content_type, reply = fault_reply(fault, service, operation, "X-Amz-Target" in self.headers)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
                return
            self.pass_through(body)

        def pass_through(self, body: bytes) -> None:
            upstream = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                reply = answer.read()
            finally:
                upstream.close()
            self.send_response(answer.status, answer.reason)
            for key, value in answer.getheaders():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    return Handler
