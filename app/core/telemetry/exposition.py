"""Serving the process's metrics in the Prometheus text format: ``/metrics`` on the API
(a Starlette endpoint) and a small HTTP server in worker processes."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio.to_thread
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from app.core.telemetry.metrics import get_metrics

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer


async def metrics_endpoint(_request: Request) -> Response:
    """Starlette endpoint for ``/metrics``: ``Route("/metrics", metrics_endpoint)``."""
    # Collection runs the queue probes (blocking reads): keep them off the event loop.
    body = await anyio.to_thread.run_sync(get_metrics().render)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@dataclass
class MetricsServer:
    """The worker's ``/metrics`` HTTP server (a daemon thread)."""

    server: WSGIServer
    thread: threading.Thread

    @property
    def port(self) -> int:
        """The bound port (useful when the configured port was 0)."""
        return int(self.server.server_address[1])

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_metrics_server(host: str = "127.0.0.1", port: int = 9464) -> MetricsServer:
    """Serve this process's metrics on ``http://host:port/metrics`` (worker processes)."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=get_metrics().registry)
    return MetricsServer(server=server, thread=thread)
