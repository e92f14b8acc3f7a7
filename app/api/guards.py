"""What a browser must not be able to do to the API: reach it under a foreign host name (DNS
rebinding), read it from a foreign page (CORS), or make it run an operation with a request
no page needs a preflight for (CSRF).

The CSRF rule is Apollo Server's: a request a browser sends without a CORS preflight (GET,
or POST with no content type or a form, multipart or text/plain one) runs an operation only
if it carries a header no simple request can have (``x-mediakg-csrf`` or
``apollo-require-preflight``, any non-empty value). JSON requests are preflighted by the
browser, so they pass. Cross-origin WebSockets are refused by strawberry's own origin check
unless the origin is in ``cors_allowed_origins``.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from app.core.settings import Settings

CSRF_HEADERS = (b"x-mediakg-csrf", b"apollo-require-preflight", b"x-apollo-operation-name")
_SIMPLE_CONTENT_TYPES = {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
# What a cross-origin page may send once the preflight allowed it.
_CORS_HEADERS = [
    "authorization",
    "content-type",
    "x-mediakg-csrf",
    "apollo-require-preflight",
    "x-request-id",
    "traceparent",
    "tracestate",
]


def _refuse(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": code}}]}, status_code=status)


def host_name(header: str) -> str:
    """The host of a Host header value, without port or IPv6 brackets, lower-cased."""
    value = header.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """Whether ``host`` is one of ``allowed`` (``*`` any, ``*.example.com`` its subdomains)."""
    for pattern in allowed:
        pattern = pattern.strip().lower().strip("[]")
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class HostCheckMiddleware:
    """Answers 400 to requests whose Host header is not an allowed name."""

    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.allowed_hosts = list(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            header = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            if not host_allowed(host_name(header), self.allowed_hosts):
                response = _refuse(
                    400, "HOST_NOT_ALLOWED", "this host name is not served here (allowed_hosts)"
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def needs_preflight_proof(method: str, content_type: str, query_string: bytes) -> bool:
    """Whether a request of this shape could come from a page without a preflight and would
    run an operation (a GET without ``query`` only fetches the GraphiQL page)."""
    if method == "GET":
        return "query" in parse_qs(query_string.decode("latin-1"))
    if method != "POST":
        return False
    essence = content_type.split(";", 1)[0].strip().lower()
    return not essence or essence in _SIMPLE_CONTENT_TYPES


class CsrfMiddleware:
    """Refuses (400) operations sent as simple requests without a preflight-forcing header."""

    def __init__(self, app: ASGIApp, *, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == self.path:
            headers = dict(scope.get("headers", []))
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            if needs_preflight_proof(
                scope["method"], content_type, scope.get("query_string", b"")
            ) and not any(headers.get(name, b"").strip() for name in CSRF_HEADERS):
                response = _refuse(
                    400,
                    "CSRF_PREVENTED",
                    "this request could have been sent by any web page: send a JSON body, or the header "
                    "x-mediakg-csrf: 1 (multipart uploads, GET queries)",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def browser_guards(settings: Settings, *, graphql_path: str) -> list[Middleware]:
    """The guards, outermost first: host, then CORS (it answers preflights), then CSRF."""
    stack = [Middleware(HostCheckMiddleware, allowed_hosts=settings.allowed_hosts)]
    if settings.cors_allowed_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_allowed_origins,
                allow_methods=["GET", "POST"],
                allow_headers=_CORS_HEADERS,
                expose_headers=["x-request-id"],
                max_age=600,
            )
        )
    stack.append(Middleware(CsrfMiddleware, path=graphql_path))
    return stack
