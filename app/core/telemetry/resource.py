"""The OpenTelemetry resource every span and metric of this process carries."""

from __future__ import annotations

import functools
import os
import socket
import uuid
from importlib import metadata

from opentelemetry.sdk.resources import Resource

# One id per process, so two workers on one host are told apart (semantic conventions:
# service.instance.id must be unique per instance of the service).
_INSTANCE_ID = uuid.uuid4().hex


@functools.cache
def service_version() -> str:
    """The installed version of the mediakg distribution (read once: every span asks, and a
    package-metadata lookup costs about 1 ms)."""
    try:
        return metadata.version("mediakg")
    except metadata.PackageNotFoundError:  # running from a checkout that was never installed
        return "0+unknown"


def build_resource(service_name: str, role: str) -> Resource:
    """service.name/version/instance plus the process role (api, worker, cli)."""
    return Resource.create(
        {
            "service.name": service_name,
            "service.version": service_version(),
            "service.instance.id": _INSTANCE_ID,
            "host.name": socket.gethostname(),
            "process.pid": os.getpid(),
            "mediakg.process.role": role,
        }
    )
