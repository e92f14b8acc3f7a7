"""The API as an ASGI app: /graphql (HTTP, multipart uploads, multipart subscriptions and
graphql-transport-ws), /blobs/{key} (keyframes, thumbnails and content of the caller's tenant,
with byte ranges for players) and, below them, the explorer at / (app/api/explorer.py).

Every response carries an ``X-Request-ID`` (the client's, if it sent a sane one); masked
errors quote it, and the logs of the request carry it, so a report can be traced.
"""

from __future__ import annotations

import asyncio
import mimetypes
import re
import uuid
from collections.abc import AsyncIterator

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.concurrency import iterate_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, HTTPConnection, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLRequestData
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL

from app.api.auth import NOBODY, AuthenticatingTransportWSHandler, unauthenticated_response
from app.api.authz import BLOB_SCOPE, forbidden_message
from app.api.body_limit import BodyLimitMiddleware
from app.api.context import Caller, CallerResolver, Context, Loaders
from app.api.explorer import explorer_routes, local_graphiql_html
from app.api.fanout import encode_next
from app.api.guards import browser_guards
from app.api.media_type import GraphQLResponseMediaType
from app.api.observability import TraceHeadersMiddleware
from app.api.rate_limits import take_request, too_many_requests
from app.api.schema import SchemaLimits, create_schema
from app.api.trusted_documents import trusted_documents
from app.api.urls import BLOB_ROUTE, SIGNATURE_PARAMS
from app.assets import repository as assets_repository
from app.core.blobs import BlobReader
from app.core.container import Services
from app.core.errors import UnreadableFileError
from app.core.signing import UrlSigner, signing_secret
from app.media import repository as media_repository
from app.tenancy.service import UnauthenticatedError

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Room for the multipart envelope (operations, map, part headers) beside the file itself.
_MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def request_id_of(connection: HTTPConnection) -> str:
    """The id RequestIdMiddleware gave this request."""
    return str(connection.scope.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    """Gives every request an id (scope state) and echoes it as the X-Request-ID header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(REQUEST_ID_HEADER.encode(), b"").decode("latin-1")
        request_id = given if _SANE_REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


class MediaGraphQL(GraphQLResponseMediaType, GraphQL[Context, None]):
    """strawberry's ASGI view with our context, answering in the media type the client accepts;
    HTTP requests are authenticated before they run, WebSockets at ``connection_init``."""

    graphql_transport_ws_handler_class = AuthenticatingTransportWSHandler

    def __init__(self, services: Services, callers: CallerResolver, url_signer: UrlSigner) -> None:
        settings = services.settings
        super().__init__(
            create_schema(SchemaLimits.from_settings(settings)),
            graphql_ide="graphiql" if settings.graphiql else None,
            multipart_uploads_enabled=True,
            # graphql-transport-ws over WebSocket, and multipart HTTP for clients that cannot
            # open one; the legacy graphql-ws protocol is not offered.
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL),
            # Browsers' cross-origin WebSockets: only from the CORS allow-list (none by default).
            allowed_origins=list(settings.cors_allowed_origins),
        )
        self.services = services
        self.callers = callers
        self.url_signer = url_signer

    def encode_json(self, data: object) -> str | bytes:
        # A subscription event shared by many subscribers is encoded once (app/api/fanout.py).
        if isinstance(data, dict) and (shared := encode_next(data)) is not None:
            return shared
        return super().encode_json(data)

    @property
    def graphql_ide_html(self) -> str:
        # strawberry's page loads GraphiQL from unpkg.com: served from the explorer's build.
        return local_graphiql_html()

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        try:
            return await super().parse_http_body(request)
        except RecursionError as exc:
            # json.loads recurses once per nesting level: a small body of brackets exhausts it.
            raise HTTPException(400, "Unable to parse request body as JSON: nested too deeply") from exc

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=receive)
        try:
            # The GraphiQL page runs no operation: it is served without a key (it asks for one).
            if not self.should_render_graphql_ide(self.request_adapter_class(request)):
                try:
                    scope.setdefault("state", {})["caller"] = await self.callers.resolve(request)
                except UnauthenticatedError as exc:
                    await unauthenticated_response(exc)(scope, receive, send)
                    return
            try:
                response = await self.run(request)
            except HTTPException as exc:
                response = PlainTextResponse(exc.reason, status_code=exc.status_code)
            except ClientDisconnect:
                # Gone mid-body (an upload cut off): nobody to answer; what was spooled is
                # closed below and nothing reached the blob store.
                return
            await response(scope, receive, send)
        finally:
            # strawberry parses multipart bodies with request.form() and never closes the
            # form: the spooled upload files would leak until garbage collection.
            await request.close()

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> Context:
        # HTTP: authenticated in __call__; WebSocket: set at connection_init.
        caller = request.scope.get("state", {}).get("caller", NOBODY)
        return Context(
            services=self.services,
            caller=caller,
            loaders=Loaders.create(
                self.services.read_session_factory,
                caller.tenant_id,
                per_request=not isinstance(request, WebSocket),
            ),
            request_id=request_id_of(request),
            url_signer=self.url_signer,
            handshake_authorization=request.headers.get("authorization")
            if isinstance(request, WebSocket)
            else None,
        )


_BYTE_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one byte range (first, last; inclusive) a Range header asks of a blob of ``size``
    bytes; None to send it whole (no header, or one this does not serve, e.g. several ranges:
    RFC 9110 lets a server ignore Range). ValueError: unsatisfiable (answer 416)."""
    match = _BYTE_RANGE.match((header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # "-N": the last N bytes
        if int(last) == 0:
            raise ValueError("empty suffix range")
        return max(0, size - int(last)), size - 1
    start = int(first)
    if last and int(last) < start:
        return None  # invalid, so ignored (RFC 9110, 14.1.1)
    if start >= size:
        raise ValueError("range starts after the end")
    return start, min(int(last), size - 1) if last else size - 1


async def _closing(reader: BlobReader, start: int = 0, length: int | None = None) -> AsyncIterator[bytes]:
    """The bytes ``start`` to ``start + length`` of the blob (the stores read from the start:
    the chunks before are read and dropped). Closes the file or connection also when the client
    leaves mid-body."""
    skip = start
    left = reader.size - start if length is None else length
    try:
        async for chunk in iterate_in_threadpool(reader.chunks):
            if skip:
                if len(chunk) <= skip:
                    skip -= len(chunk)
                    continue
                chunk, skip = chunk[skip:], 0
            if len(chunk) >= left:
                yield chunk[:left]
                return
            left -= len(chunk)
            yield chunk
    finally:
        reader.close()


def create_graphql_app(services: Services) -> Starlette:
    """The API app; mount it at the service root (it routes /graphql and /blobs itself)."""
    if services.settings.trusted_documents_manifest is not None:
        # A manifest that does not load fails the start, not every request.
        trusted_documents(services.settings.trusted_documents_manifest)
    callers = CallerResolver(services)
    signer = UrlSigner(
        signing_secret(services.settings), ttl_seconds=services.settings.signed_url_ttl_seconds
    )
    graphql = MediaGraphQL(services, callers, signer)

    async def blob_caller(request: Request) -> Caller | Response:
        """Who fetches a blob: a signed URL names its tenant; without one, the key decides."""
        params = request.query_params
        if any(name in params for name in SIGNATURE_PARAMS):
            tenant_id = signer.verify(
                key=request.path_params["key"],
                tenant=params.get("tenant", ""),
                expires=params.get("expires", ""),
                signature=params.get("signature", ""),
            )
            if tenant_id is None:
                return JSONResponse(
                    {"error": "the URL's signature is invalid or expired", "code": "INVALID_SIGNATURE"},
                    status_code=403,
                )
            return Caller(
                tenant_id=tenant_id, tenant_slug="", actor="signed-url", scopes=frozenset({BLOB_SCOPE})
            )
        try:
            return await callers.resolve(request)
        except UnauthenticatedError as exc:
            return unauthenticated_response(exc)

    async def blob(request: Request) -> Response:
        key = request.path_params["key"]
        caller = await blob_caller(request)
        if isinstance(caller, Response):
            return caller
        if not caller.has(BLOB_SCOPE):
            return JSONResponse({"error": forbidden_message(BLOB_SCOPE)}, status_code=403)
        retry_after = await take_request(services, caller)
        if retry_after is not None:
            return too_many_requests(retry_after)
        async with services.read_session_factory() as session:
            owned = await media_repository.tenant_owns_blob(session, tenant_id=caller.tenant_id, key=key)
            # Not a keyframe or thumbnail: the content of one of the tenant's live assets?
            content_type = (
                None
                if owned
                else await assets_repository.content_mime_type(session, tenant_id=caller.tenant_id, key=key)
            )
        if not owned and content_type is None:
            # The same answer for "missing" and "another tenant's": existence is not leaked.
            return JSONResponse({"error": "not found"}, status_code=404)
        try:
            reader = await asyncio.to_thread(services.blobs.open_read, key)
        except UnreadableFileError:
            return JSONResponse({"error": "not found"}, status_code=404)
        media_type = content_type or mimetypes.guess_type(key)[0] or "application/octet-stream"
        # Content-addressed: the bytes behind a key never change.
        headers = {"Cache-Control": "private, max-age=31536000, immutable", "Accept-Ranges": "bytes"}
        try:
            wanted = byte_range(request.headers.get("range"), reader.size)
        except ValueError:
            reader.close()
            return Response(status_code=416, headers={"Content-Range": f"bytes */{reader.size}"})
        if wanted is None:
            # Streamed from the store (a local file or S3), chunk by chunk, never whole in memory.
            headers["Content-Length"] = str(reader.size)
            return StreamingResponse(_closing(reader), media_type=media_type, headers=headers)
        first, last = wanted
        # A player seeking in a video asks for ranges.
        headers["Content-Length"] = str(last - first + 1)
        headers["Content-Range"] = f"bytes {first}-{last}/{reader.size}"
        return StreamingResponse(
            _closing(reader, first, last - first + 1), status_code=206, media_type=media_type, headers=headers
        )

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route(f"{BLOB_ROUTE}/{{key:path}}", blob, methods=["GET"]),
            *explorer_routes(),
        ],
        middleware=[
            Middleware(RequestIdMiddleware),
            *browser_guards(services.settings, graphql_path="/graphql"),
            Middleware(TraceHeadersMiddleware),
            Middleware(
                BodyLimitMiddleware,
                max_upload_bytes=services.settings.max_upload_bytes + _MULTIPART_OVERHEAD_BYTES,
                max_body_bytes=services.settings.max_json_body_bytes,
            ),
        ],
    )
