"""Outbound HTTP that a client cannot turn against the server's own network (SSRF).

Used for every request the service makes to a URL a client chose (URL ingest: ``fetch``;
webhook deliveries: ``post``).
For each hop of a fetch:

- the URL must be http or https, without credentials;
- the host name is resolved once, by the process's resolver (a hook, so tests can map test
  names to any address without touching DNS), and EVERY address it resolves to must be public:
  loopback, private, link-local, multicast, reserved, unspecified, shared (CGNAT) and
  cloud-metadata addresses are refused, IPv4 and IPv6, including IPv4 embedded in IPv6
  (mapped, compatible, NAT64, 6to4; Teredo refused outright);
- the connection goes to the address that was checked (the URL's host is replaced by it), while
  the Host header and TLS SNI/certificate checks keep the name: a DNS answer that changes
  between the check and the connection (rebinding) cannot redirect it;
- a redirect is a new hop and is checked the same way; size and time are capped, and the size
  is checked from Content-Length before the body is read.

Operators may exempt networks (``outbound_allowed_networks``) for a trusted internal source;
the tests exempt 127.0.0.1 only, to talk to their own local server.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import BinaryIO
from urllib.parse import unquote

import certifi
import httpx

from app.core.errors import FetchFailedError, FileTooLargeError, UrlNotAllowedError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the addresses the name resolves to.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]
# (first bytes, declared length or None) -> the byte cap for the whole body; raises to refuse.
HeadCheck = Callable[[bytes, int | None], int]

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEAD_BYTES = 8192

# Instance metadata services: link-local or private already, named so the refusal says so.
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud (Python's is_global calls it public)
        "fd00:ec2::254",  # AWS over IPv6
    )
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_TEREDO = ipaddress.ip_network("2001::/32")


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` must not be connected to (a short phrase), or None if it is public."""
    if address in _METADATA:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = refusal(embedded)
            return f"{reason} (embedded in IPv6)" if reason else None
        if address in _TEREDO:
            return "Teredo tunnel"
        if address in _NAT64_LOCAL:
            return "local-use NAT64"
    checks = (
        (address.is_loopback, "loopback"),
        (address.is_unspecified, "unspecified"),
        (address.is_link_local, "link-local"),
        (address.is_multicast, "multicast"),
        (isinstance(address, ipaddress.IPv4Address) and address in _CGNAT, "shared (CGNAT)"),
        (isinstance(address, ipaddress.IPv6Address) and address.is_site_local, "site-local"),
        (address.is_reserved, "reserved"),
        (address.is_private, "private"),
        (not address.is_global, "non-public"),
    )
    return next((reason for hit, reason in checks if hit), None)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    # ::a.b.c.d (deprecated IPv4-compatible); :: and ::1 are themselves, not embeddings.
    if address in _IPV4_COMPATIBLE and int(address) > 1:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """Which addresses may be connected to: public ones, plus explicitly exempted networks."""

    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_strings(cls, networks: Iterable[str]) -> AddressPolicy:
        """A policy exempting ``networks`` (CIDR strings)."""
        return cls(tuple(ipaddress.ip_network(n, strict=False) for n in networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` is refused, or None."""
        if any(address.version == net.version and address in net for net in self.allowed_networks):
            return None
        return refusal(address)


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to through the system resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # Drop an IPv6 scope id ("fe80::1%eth0"): the policy judges the address itself.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


@dataclass(slots=True)
class Network:
    """How this process reaches other hosts; tests swap the resolver and wrap the transport."""

    resolver: Resolver = system_resolver
    # None: a fresh httpx.AsyncHTTPTransport per hop (no connection is reused across names).
    transport: Callable[[], httpx.AsyncBaseTransport] | None = None


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Caps of one fetch."""

    max_bytes: int
    timeout_s: float
    max_redirects: int = 5


@dataclass(frozen=True, slots=True)
class Fetched:
    """What a fetch wrote into its sink."""

    url: str  # the final URL, after redirects
    size: int
    content_type: str | None
    filename: str  # the last path segment of the final URL ("download" if none)
    redirects: list[str] = field(default_factory=list)


def check_url(url: str) -> httpx.URL:
    """``url`` parsed, if it is an absolute http(s) URL without credentials."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise UrlNotAllowedError("the URL is malformed", field=["url"]) from exc
    if parsed.scheme not in ("http", "https"):
        raise UrlNotAllowedError("only http and https URLs can be fetched", field=["url"])
    if not parsed.host:
        raise UrlNotAllowedError("the URL has no host", field=["url"])
    if parsed.userinfo:
        raise UrlNotAllowedError("URLs with credentials are not accepted", field=["url"])
    return parsed


def public_url(url: httpx.URL) -> str:
    """``url`` without its query and fragment (they may carry tokens): what may be shown."""
    return str(url.copy_with(query=None, fragment=None))


async def pinned_address(url: httpx.URL, *, policy: AddressPolicy, resolver: Resolver) -> IPAddress:
    """The address to connect to for ``url``: resolved once, every answer checked."""
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except (OSError, UnicodeError) as exc:  # UnicodeError: a name IDNA cannot encode
            raise FetchFailedError(f"{host}: the name does not resolve", field=["url"]) from exc
    if not addresses:
        raise FetchFailedError(f"{host}: the name does not resolve", field=["url"])
    for address in addresses:
        reason = policy.refusal(address)
        if reason is not None:
            # The address itself is not named: it may be an internal one the client should not learn.
            raise UrlNotAllowedError(f"{host}: resolves to a {reason} address", field=["url"])
    return addresses[0]


async def fetch(
    url: str,
    *,
    sink: BinaryIO,
    limits: FetchLimits,
    policy: AddressPolicy,
    network: Network,
    check_head: HeadCheck | None = None,
) -> Fetched:
    """GET ``url`` into ``sink`` under the policy and limits, following checked redirects.

    Raises UrlNotAllowedError (scheme, credentials, refused address), FileTooLargeError and
    FetchFailedError (no answer, HTTP error status, too many redirects, time out).
    """
    current = check_url(url)
    redirects: list[str] = []
    try:
        async with asyncio.timeout(limits.timeout_s):
            while True:
                async with await _send(current, policy=policy, network=network, limits=limits) as response:
                    if response.status_code in _REDIRECTS and "location" in response.headers:
                        if len(redirects) >= limits.max_redirects:
                            raise FetchFailedError(
                                f"more than {limits.max_redirects} redirects", field=["url"]
                            )
                        try:
                            current = check_url(str(current.join(response.headers["location"])))
                        except UrlNotAllowedError as exc:
                            raise UrlNotAllowedError(
                                f"redirect refused: {exc.message}", field=["url"]
                            ) from exc
                        redirects.append(public_url(current))
                        continue
                    if response.status_code >= 400:
                        raise FetchFailedError(
                            f"the server answered HTTP {response.status_code}", field=["url"]
                        )
                    size = await _read_body(response, sink, limits.max_bytes, check_head)
                    return Fetched(
                        url=public_url(current),
                        size=size,
                        content_type=response.headers.get("content-type"),
                        filename=unquote(current.path.rstrip("/").rsplit("/", 1)[-1]) or "download",
                        redirects=redirects,
                    )
    except TimeoutError as exc:
        raise FetchFailedError(f"the fetch took longer than {limits.timeout_s:g} s", field=["url"]) from exc


class _Response:
    """A streamed response and the client that must close with it."""

    def __init__(self, client: httpx.AsyncClient, response: httpx.Response) -> None:
        self.client = client
        self.response = response

    async def __aenter__(self) -> httpx.Response:
        return self.response

    async def __aexit__(self, *exc: object) -> None:
        await self.response.aclose()
        await self.client.aclose()


@functools.cache
def _tls() -> ssl.SSLContext:
    """The TLS context of every hop, built once: loading the CA bundle costs more than a
    webhook's whole request on loopback (a context is safe to share between connections)."""
    return ssl.create_default_context(cafile=certifi.where())


async def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    timeout_s: float,
    policy: AddressPolicy,
    network: Network,
) -> int:
    """POST ``body`` to ``url`` under the policy; the status code. Redirects are not followed
    (a 3xx is returned like any other answer); the response body is not read.

    Raises UrlNotAllowedError (scheme, credentials, refused address) and FetchFailedError (no
    answer, time out).
    """
    target = check_url(url)
    limits = FetchLimits(max_bytes=0, timeout_s=timeout_s, max_redirects=0)
    try:
        async with asyncio.timeout(timeout_s):
            sent = await _send(
                target,
                policy=policy,
                network=network,
                limits=limits,
                method="POST",
                content=body,
                headers=headers,
            )
            async with sent as response:
                return response.status_code
    except TimeoutError as exc:
        raise FetchFailedError(f"no answer within {timeout_s:g} s", field=["url"]) from exc


async def _send(
    url: httpx.URL,
    *,
    policy: AddressPolicy,
    network: Network,
    limits: FetchLimits,
    method: str = "GET",
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> _Response:
    address = await pinned_address(url, policy=policy, resolver=network.resolver)
    target = url.copy_with(host=str(address))
    host_header = url.netloc.decode("ascii")
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    # trust_env=False: a proxy from the environment would connect by name, undoing the pin.
    client = httpx.AsyncClient(
        transport=network.transport() if network.transport else httpx.AsyncHTTPTransport(verify=_tls()),
        trust_env=False,
        follow_redirects=False,
        timeout=httpx.Timeout(min(limits.timeout_s, 30.0)),
    )
    # identity: sizes are checked on the bytes as sent, with no decompression to inflate them.
    sent_headers = {**(headers or {}), "host": host_header, "accept-encoding": "identity"}
    request = client.build_request(
        method, target, headers=sent_headers, content=content, extensions=extensions
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.HTTPError as exc:
        await client.aclose()
        # The exception text may name the address; the client gets the kind of failure only.
        raise FetchFailedError(f"{url.host}: {type(exc).__name__}", field=["url"]) from exc
    return _Response(client, response)


async def _read_body(
    response: httpx.Response, sink: BinaryIO, max_bytes: int, check_head: HeadCheck | None
) -> int:
    declared = response.headers.get("content-length")
    length = int(declared) if declared is not None and declared.isdigit() else None
    cap = max_bytes
    if length is not None and length > cap:
        raise FileTooLargeError(f"content exceeds the limit of {cap} bytes", max_bytes=cap, field=["url"])
    head = b""
    size = 0
    checked = check_head is None
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if not checked:
                head += chunk[: _HEAD_BYTES - len(head)]
                if len(head) >= min(_HEAD_BYTES, length if length is not None else _HEAD_BYTES):
                    assert check_head is not None
                    cap = min(cap, check_head(head, length))
                    checked = True
            if size > cap:
                raise FileTooLargeError(
                    f"content exceeds the limit of {cap} bytes", max_bytes=cap, field=["url"]
                )
            sink.write(chunk)
    except httpx.HTTPError as exc:
        raise FetchFailedError(f"the transfer broke off: {type(exc).__name__}", field=["url"]) from exc
    if not checked and check_head is not None:
        cap = min(cap, check_head(head, length))
        if size > cap:
            raise FileTooLargeError(f"content exceeds the limit of {cap} bytes", max_bytes=cap, field=["url"])
    return size


__all__ = [
    "AddressPolicy",
    "FetchLimits",
    "Fetched",
    "IPAddress",
    "Network",
    "Resolver",
    "check_url",
    "fetch",
    "pinned_address",
    "post",
    "public_url",
    "refusal",
    "system_resolver",
]
