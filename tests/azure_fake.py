"""A fake Azure Resource Manager on loopback: HTTPS with a test CA (trustme), replies in ARM's own
JSON shapes, `nextLink` paging that it owns, and a JSON 404 for anything not recorded, so that the
real Azure client libraries run unchanged against it. It records every request it receives."""

from __future__ import annotations

import json
import re
import ssl
import threading
from contextlib import contextmanager
from typing import Iterator
from urllib.parse import parse_qs, urlencode

PAGE = 2  # elements per page: every list of more than two is paged


class FakeArm:
    """Replies by (method, lower-cased path); lists are {"value": [...]} and get paged."""

    def __init__(self, server, ca_path: str) -> None:
        self.server = server
        self.ca_path = ca_path
        self.replies: dict[tuple[str, str], object] = {}
        self.errors: dict[str, tuple[int, dict]] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.server.port}"

    def reset(self) -> None:
        with self.lock:
            self.replies.clear()
            self.errors.clear()
            self.requests.clear()

    def load(self, paths: dict[str, object]) -> None:
        """Record replies by path: a list is served as an ARM list, anything else as it is."""
        for path, reply in paths.items():
            self.replies[("GET", path.lower())] = reply

    def fail(self, path: str, status: int, code: str, message: str) -> None:
        """Answer requests for `path` with an ARM error."""
        self.errors[path.lower()] = (status, {"error": {"code": code, "message": message}})

    def _handle(self, request):
        from werkzeug.wrappers import Response

        path = request.path.rstrip("/").lower()
        with self.lock:
            self.requests.append((request.method, request.full_path))
        if path in self.errors:
            status, body = self.errors[path]
            return Response(json.dumps(body), status=status, content_type="application/json")
        reply = None
        if request.args.get("statusOnly"):  # a list's variant with instance views alone
            reply = self.replies.get((request.method, f"{path}?statusonly={request.args['statusOnly'].lower()}"))
        reply = reply if reply is not None else self.replies.get((request.method, path))
        if reply is None:
            body = {"error": {"code": "NotFound", "message": f"not recorded: {request.method} {request.path}"}}
            return Response(json.dumps(body), status=404, content_type="application/json")
        if isinstance(reply, list):
            start = int(request.args.get("$skiptoken", "0"))
            page = {"value": reply[start:start + PAGE]}
            if start + PAGE < len(reply):
                query = {k: v[0] for k, v in parse_qs(request.query_string.decode()).items()}
                query["$skiptoken"] = str(start + PAGE)
                page["nextLink"] = f"{self.endpoint}{request.path}?{urlencode(query)}"
            return Response(json.dumps(page), status=200, content_type="application/json")
        return Response(json.dumps(reply), status=200, content_type="application/json")


@contextmanager
def fake_arm(tmp_dir) -> Iterator[FakeArm]:
    """One HTTPS fake ARM server and its CA bundle (written under tmp_dir)."""
    import trustme
    from pytest_httpserver import HTTPServer

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_path = str(tmp_dir / "fake-arm-ca.pem")
    ca.cert_pem.write_to_path(ca_path)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    try:
        yield FakeArm(server, ca_path)
    finally:
        server.clear()
        if server.is_running():
            server.stop()
