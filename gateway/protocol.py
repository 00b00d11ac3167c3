"""eventlet.wsgi's HTTP protocol, with its own refusals in the contract's error format.

eventlet answers some requests before the app sees them: a request line (method, URL,
version) of 8 KiB or more gets a bare `414` with no body, a header line over 8 KiB or
headers over 64 KiB a bare `400`. The fuzzer found the first (a long query string):
an answer outside the contract, without X-Request-ID or the security headers. Here
they become the usual `400 validation_error` JSON naming what was too long. Both
overrides hook eventlet 0.41's HttpProtocol (pinned), which reads the request line in
`_read_request_line` and the headers in `parse_request`.
"""

from __future__ import annotations

import json

import eventlet.wsgi

from common.logging import new_correlation_id
from gateway.security import STATIC_HEADERS


def refusal(field: str, message: str) -> bytes:
    """A whole HTTP/1.1 400 answer in the contract's format (the connection then closes)."""
    body = json.dumps({"error": {
        "code": "validation_error", "message": f"{field}: {message}",
        "details": {"fields": [{"field": field, "message": message}]}}}).encode()
    headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
               "Connection": "close", "X-Request-ID": new_correlation_id(),
               "Cache-Control": "no-store", **STATIC_HEADERS}
    head = "HTTP/1.1 400 Bad Request\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    return head.encode("latin-1") + body


class GatewayProtocol(eventlet.wsgi.HttpProtocol):
    """Pass as `protocol=` to eventlet.wsgi.server."""

    def _read_request_line(self):
        line = super()._read_request_line()
        limit = self.server.url_length_limit
        if line and len(line) >= limit:
            self.wfile.write(refusal("url", f"the request line must be under {limit} bytes"))
            self.close_connection = 1
            return ""  # eventlet stops here, as after a closed connection
        return line

    def parse_request(self):
        try:
            return super().parse_request()
        except eventlet.wsgi.HeaderLineTooLong:
            message = f"a header line must be under {eventlet.wsgi.MAX_HEADER_LINE} bytes"
        except eventlet.wsgi.HeadersTooLarge:
            message = f"headers must be under {eventlet.wsgi.MAX_TOTAL_HEADER_SIZE} bytes"
        self.wfile.write(refusal("headers", message))
        self.close_connection = 1
        return False
