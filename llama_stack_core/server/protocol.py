"""uvicorn's HTTP protocol, with the JSON error body for requests it refuses before the app sees them (a malformed
or over-long request line or header): clients get the same error shape as for every other 400."""

from __future__ import annotations

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import error_body


class JsonErrorHttpToolsProtocol(HttpToolsProtocol):
    def send_400_response(self, msg: str) -> None:
        body = orjson.dumps(
            error_body(
                f"{msg.rstrip('.')}: the request line or headers are malformed or too long",
                "invalid_request_error",
                400,
            )
        )
        head = [b"HTTP/1.1 400 Bad Request\r\n"]
        head.extend(name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers)
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        self.transport.close()
