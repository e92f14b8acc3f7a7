"""The explorer (web/, a React app built into web/dist) at ``/``, and GraphiQL's files, both
served from this process: nothing loads from a CDN.

Hashed build files (``/assets/*``) never change under their name: cached for a year. The
page itself (``index.html``) answers the app's own routes (``/asset/<id>``, ``/search?q=…``: the
routes of web/src/App.tsx), so a reload or a shared link works; it is revalidated on every load,
so a new build shows at once. Other paths stay 404. Without a build, the page says how to make
one.
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from strawberry.http.ides import get_graphql_ide_html

EXPLORER_DIR = Path(__file__).resolve().parents[2] / "web" / "dist"
"""Where `make web` (npm run build in web/) puts the explorer; gitignored."""

GRAPHIQL_ROUTE = "/graphiql"
CLIENT_ROUTES = (
    "/",
    "/asset/{id:path}",
    "/search",
    "/people",
    "/duplicates",
    "/relations",
    "/relations/{id:path}",
    "/operations",
)
"""The explorer's pages (react-router routes of web/src/App.tsx): each answers the app."""
_UNPKG = re.compile(r'https://unpkg\.com/((?:@[^/"]+/)?[^@/"]+)@[^/"]+/([^"]+)')
_INTEGRITY = re.compile(r'\s+integrity="[^"]*"|\s+crossorigin(?=[\s>])')
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mediakg: the explorer is not built</title></head>
<body style="font-family: sans-serif; max-width: 40rem; margin: 3rem auto">
<h1>The explorer is not built</h1>
<p>Build it once (Node.js 20 and npm are needed), then reload this page:</p>
<pre>make web</pre>
<p>(that is <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>;
<code>make run</code> does it too).
The GraphQL API works without it at <a href="/graphql">/graphql</a>.</p>
</body></html>
"""

# Where the explorer keeps the session's key (web/src/lib/auth.ts): GraphiQL opened from the
# same tab sends it too, on HTTP and in the WebSocket's connection_init.
_SEND_SESSION_KEY = """const defaultHeaders = {};
      const mediakgKey = sessionStorage.getItem("mediakg.apiKey");
      if (mediakgKey) {
        defaultHeaders["Authorization"] = "Bearer " + mediakgKey;
      }"""


def local_graphiql_html(dist: Path = EXPLORER_DIR) -> str:
    """strawberry's GraphiQL page loading its scripts and styles from ``/graphiql/…`` (vendored
    by web/scripts/vendor-graphiql.mjs) instead of unpkg.com, sending the explorer's key."""
    if not (dist / "graphiql").is_dir():
        return NOT_BUILT.replace("The explorer is not built", "GraphiQL's files are not built")
    page = get_graphql_ide_html(graphql_ide="graphiql")
    page = _INTEGRITY.sub("", page)
    page = _UNPKG.sub(lambda m: f"{GRAPHIQL_ROUTE}/{m.group(1)}/{m.group(2)}", page)
    page = page.replace("const defaultHeaders = {};", _SEND_SESSION_KEY, 1)
    with_params = "subscriptionUrl,\n        wsConnectionParams: defaultHeaders,\n"
    return page.replace("subscriptionUrl,\n", with_params, 1)


class _CachedFiles(StaticFiles):
    """Static files with one Cache-Control for all of them."""

    def __init__(self, *, directory: Path, cache_control: str) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.cache_control = cache_control

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["Cache-Control"] = self.cache_control
        return response


def explorer_routes(dist: Path = EXPLORER_DIR) -> list[BaseRoute]:
    """Routes of the built app: its pages, its files and GraphiQL's."""

    async def page(_request: Request) -> Response:
        index = dist / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503, headers={"Cache-Control": "no-store"})
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    pages: list[BaseRoute] = [Route(path, page, methods=["GET", "HEAD"]) for path in CLIENT_ROUTES]
    return [
        *pages,
        Mount(
            "/assets",
            app=_CachedFiles(directory=dist / "assets", cache_control="public, max-age=31536000, immutable"),
        ),
        Mount(
            GRAPHIQL_ROUTE,
            app=_CachedFiles(directory=dist / "graphiql", cache_control="public, max-age=86400"),
        ),
    ]
