"""Request body limits that hold before the body is read: an ASGI middleware.

Two caps: multipart bodies (GraphQL uploads) may be as large as an upload plus its envelope,
and must declare their length so the cap is checked before anything is spooled; every other
body (JSON documents, form posts, whatever a client sends) is capped at
``max_json_body_bytes``. The cap is checked against ``Content-Length`` up front and again
while the body streams in, so a chunked body without a length (or one whose length lies) is
cut off at the cap: the server never holds more than the cap of a refused body.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _BodyTooLarge(Exception):
    """Raised from ``receive`` once a streamed body passes its cap."""


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


class BodyLimitMiddleware:
    """Refuses request bodies over their cap with 413 (411 for a multipart body without length)."""

    def __init__(self, app: ASGIApp, *, max_upload_bytes: int, max_body_bytes: int) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length")
        is_multipart = scope.get("method") == "POST" and headers.get(b"content-type", b"").startswith(
            b"multipart/"
        )
        cap = self.max_upload_bytes if is_multipart else self.max_body_bytes
        too_large = _error(413, "BODY_TOO_LARGE", f"the request body exceeds {cap} bytes")
        if is_multipart:
            too_large = _error(413, "FILE_TOO_LARGE", f"the request body exceeds {cap} bytes")
        if length is None and is_multipart:
            length_required = _error(411, "LENGTH_REQUIRED", "multipart uploads must send Content-Length")
            await length_required(scope, receive, send)
            return
        if length is not None and (not length.isdigit() or int(length) > cap):
            await too_large(scope, receive, send)
            return

        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if response_started:
                raise  # cannot happen for a handler that reads its body first; never swallow it
            await too_large(scope, receive, send)
