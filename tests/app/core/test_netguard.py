"""The outbound address policy and the pinned fetch (app/core/netguard.py).

No test here connects to anything but 127.0.0.1: refusals of other ranges are checked at the
resolution step (a resolver stub maps test names to those addresses) and each such test
asserts that no request reached the transport.
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core.errors import FetchFailedError, FileTooLargeError, UnsupportedMediaError, UrlNotAllowedError
from app.core.netguard import (
    AddressPolicy,
    Fetched,
    FetchLimits,
    IPAddress,
    Network,
    fetch,
    refusal,
    system_resolver,
)
from tests.fixtures.local_http import LocalServer, Reply, local_http_server

LOOPBACK_ONLY = AddressPolicy.from_strings(["127.0.0.1/32"])
LIMITS = FetchLimits(max_bytes=1024 * 1024, timeout_s=30.0, max_redirects=3)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.0.9", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.170.2", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("192.0.0.192", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("198.18.0.1", "private"),
        ("192.0.2.1", "private"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("fd00:ec2::254", "cloud metadata"),
        ("ff02::1", "multicast"),
        ("fec0::1", "site-local"),
        ("2001:db8::1", "private"),
        ("::ffff:127.0.0.1", "loopback (embedded in IPv6)"),
        ("::ffff:10.0.0.1", "private (embedded in IPv6)"),
        ("::ffff:169.254.169.254", "cloud metadata (embedded in IPv6)"),
        ("::127.0.0.1", "loopback (embedded in IPv6)"),
        ("64:ff9b::a9fe:a9fe", "cloud metadata (embedded in IPv6)"),
        ("64:ff9b::10.0.0.1", "private (embedded in IPv6)"),
        ("64:ff9b:1::1", "local-use NAT64"),
        ("2002:7f00:1::", "loopback (embedded in IPv6)"),
        ("2002:a00:1::", "private (embedded in IPv6)"),
        ("2001::1", "Teredo tunnel"),
    ],
)
def test_non_public_addresses_are_refused(address: str, reason: str) -> None:
    assert refusal(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ipaddress.ip_address(address)) is None


def test_exempt_networks_exempt_exactly_what_they_name() -> None:
    assert LOOPBACK_ONLY.refusal(ipaddress.ip_address("127.0.0.1")) is None
    assert LOOPBACK_ONLY.refusal(ipaddress.ip_address("127.0.0.2")) == "loopback"
    assert LOOPBACK_ONLY.refusal(ipaddress.ip_address("::1")) == "loopback"
    assert LOOPBACK_ONLY.refusal(ipaddress.ip_address("::ffff:127.0.0.1")) == "loopback (embedded in IPv6)"


class Recorder:
    """The real transport, recording each request it is asked to send."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.created = 0

    def __call__(self) -> httpx.AsyncBaseTransport:
        self.created += 1
        recorder = self

        class Recording(httpx.AsyncHTTPTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                recorder.requests.append(request)
                return await super().handle_async_request(request)

        return Recording()


class StubResolver:
    """Maps test host names to fixed addresses; records every lookup."""

    def __init__(self, names: dict[str, list[str]]) -> None:
        self.names = {name: [ipaddress.ip_address(a) for a in addresses] for name, addresses in names.items()}
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.lookups.append(host)
        if host not in self.names:
            raise OSError(f"{host}: unknown to the stub")
        return self.names[host]


async def _fetch(
    url: str,
    *,
    policy: AddressPolicy = LOOPBACK_ONLY,
    resolver: StubResolver | None = None,
    recorder: Recorder | None = None,
    limits: FetchLimits = LIMITS,
) -> tuple[bytes, Fetched]:
    sink = io.BytesIO()
    network = Network(resolver=resolver or StubResolver({}), transport=recorder)
    fetched = await fetch(url, sink=sink, limits=limits, policy=policy, network=network)
    return sink.getvalue(), fetched


REFUSED_RANGES = {
    "private.test": ["10.0.0.7"],
    "metadata.test": ["169.254.169.254"],
    "linklocal.test": ["169.254.3.4"],
    "cgnat.test": ["100.64.1.1"],
    "multicast.test": ["239.1.2.3"],
    "v6-loopback.test": ["::1"],
    "v6-ula.test": ["fd12:3456::1"],
    "v6-linklocal.test": ["fe80::1"],
    "mapped.test": ["::ffff:10.1.1.1"],
    "nat64.test": ["64:ff9b::a9fe:a9fe"],
    # One bad answer among good ones is enough: the connection could go to any of them.
    "mixed.test": ["93.184.216.34", "192.168.0.10"],
}


@pytest.mark.parametrize("host", sorted(REFUSED_RANGES))
async def test_names_resolving_to_refused_ranges_are_refused_before_any_connection(host: str) -> None:
    resolver = StubResolver(REFUSED_RANGES)
    recorder = Recorder()
    with pytest.raises(UrlNotAllowedError) as info:
        await _fetch(
            f"https://{host}/video.mp4", policy=AddressPolicy(), resolver=resolver, recorder=recorder
        )
    assert info.value.message.startswith(f"{host}: resolves to a ")
    # The address is not echoed (it may be internal).
    assert all(a not in info.value.message for a in REFUSED_RANGES[host])
    assert resolver.lookups == [host]
    assert (recorder.created, recorder.requests) == (0, [])


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:7f00:1]/",
        "http://[fd00:ec2::254]/",
        "http://127.0.0.1/",
        "http://0.0.0.0/",
    ],
)
async def test_address_literals_are_checked_without_resolving(url: str) -> None:
    resolver = StubResolver({})
    recorder = Recorder()
    with pytest.raises(UrlNotAllowedError):
        await _fetch(url, policy=AddressPolicy(), resolver=resolver, recorder=recorder)
    assert (resolver.lookups, recorder.requests) == ([], [])


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "017700000001", "127.1"])
async def test_numeric_spellings_of_loopback_resolve_locally_and_are_refused(host: str) -> None:
    # getaddrinfo reads these numeric forms without any DNS query: the policy sees 127.0.0.1.
    recorder = Recorder()
    network = Network(resolver=system_resolver, transport=recorder)
    with pytest.raises(UrlNotAllowedError, match="loopback"):
        await fetch(
            f"http://{host}/", sink=io.BytesIO(), limits=LIMITS, policy=AddressPolicy(), network=network
        )
    assert recorder.requests == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http and https URLs can be fetched"),
        ("gopher://127.0.0.1:70/", "only http and https URLs can be fetched"),
        ("http://user:secret@media.test/", "URLs with credentials are not accepted"),
        ("http:///nohost", "the URL has no host"),
        ("http://[::1", "the URL is malformed"),
    ],
)
async def test_schemes_credentials_and_malformed_urls_are_refused(url: str, message: str) -> None:
    recorder = Recorder()
    with pytest.raises(UrlNotAllowedError) as info:
        await _fetch(url, recorder=recorder)
    assert (info.value.message, info.value.field) == (message, ["url"])
    assert recorder.requests == []


@pytest.fixture
def server() -> Iterator[LocalServer]:
    with local_http_server() as running:
        running.route(
            "/dot.bin", Reply(body=b"x" * 1000, headers={"Content-Type": "application/octet-stream"})
        )
        yield running


async def test_the_connection_is_pinned_and_the_host_name_kept(server: LocalServer) -> None:
    resolver = StubResolver({"media.test": ["127.0.0.1"]})
    recorder = Recorder()
    body, fetched = await _fetch(
        f"http://media.test:{server.port}/dot.bin?sig=abc", resolver=resolver, recorder=recorder
    )
    assert body == b"x" * 1000
    # Connected to the checked address, with the name in the Host header.
    assert [r.url.host for r in recorder.requests] == ["127.0.0.1"]
    assert [s.host for s in server.seen] == [f"media.test:{server.port}"]
    assert resolver.lookups == ["media.test"]
    assert fetched.url == f"http://media.test:{server.port}/dot.bin"


async def test_without_the_allowance_the_local_server_is_unreachable(server: LocalServer) -> None:
    with pytest.raises(UrlNotAllowedError, match=r"127\.0\.0\.1: resolves to a loopback address"):
        await _fetch(f"{server.url}/dot.bin", policy=AddressPolicy())
    assert server.seen == []


async def test_redirects_are_followed_and_each_is_checked(server: LocalServer) -> None:
    server.route("/a", Reply(status=302, headers={"Location": "/b"}))
    server.route("/b", Reply(status=301, headers={"Location": f"{server.url}/dot.bin"}))
    body, fetched = await _fetch(f"{server.url}/a")
    assert body == b"x" * 1000
    assert fetched.redirects == [f"{server.url}/b", f"{server.url}/dot.bin"]
    assert [s.path for s in server.seen] == ["/a", "/b", "/dot.bin"]


@pytest.mark.parametrize(
    ("location", "message"),
    [
        # Loopback, but not the exempted address: refused before connecting.
        ("http://127.0.0.2:{port}/dot.bin", "127.0.0.2: resolves to a loopback address"),
        ("http://[::1]:{port}/dot.bin", "::1: resolves to a loopback address"),
        (
            "http://[::ffff:127.0.0.1]:{port}/dot.bin",
            "::ffff:127.0.0.1: resolves to a loopback (embedded in IPv6) address",
        ),
        ("http://metadata.test/latest/meta-data/", "metadata.test: resolves to a cloud metadata address"),
        ("http://private.test/", "private.test: resolves to a private address"),
        ("file:///etc/passwd", "redirect refused: only http and https URLs can be fetched"),
    ],
)
async def test_a_redirect_to_a_refused_address_is_refused(
    server: LocalServer, location: str, message: str
) -> None:
    server.route("/start", Reply(status=302, headers={"Location": "/hop"}))
    server.route("/hop", Reply(status=307, headers={"Location": location.format(port=server.port)}))
    resolver = StubResolver(REFUSED_RANGES)
    recorder = Recorder()
    with pytest.raises(UrlNotAllowedError) as info:
        await _fetch(f"{server.url}/start", resolver=resolver, recorder=recorder)
    assert info.value.message == message
    # Only the two allowed hops were ever sent.
    assert [str(r.url) for r in recorder.requests] == [f"{server.url}/start", f"{server.url}/hop"]
    assert [s.path for s in server.seen] == ["/start", "/hop"]


async def test_redirect_loops_stop_at_the_limit(server: LocalServer) -> None:
    server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    with pytest.raises(FetchFailedError, match="more than 3 redirects"):
        await _fetch(f"{server.url}/loop")
    assert len(server.seen) == 4


async def test_http_errors_fail_the_fetch(server: LocalServer) -> None:
    with pytest.raises(FetchFailedError, match="the server answered HTTP 404"):
        await _fetch(f"{server.url}/missing")


async def test_a_declared_length_over_the_cap_is_refused_before_reading(server: LocalServer) -> None:
    server.route("/huge", Reply(body=b"", headers={"Content-Length": str(50 * 1024**3)}))
    sink = io.BytesIO()
    with pytest.raises(FileTooLargeError, match=f"content exceeds the limit of {1024 * 1024} bytes"):
        await fetch(f"{server.url}/huge", sink=sink, limits=LIMITS, policy=LOOPBACK_ONLY, network=Network())
    assert sink.getvalue() == b""


async def test_an_endless_body_is_cut_at_the_cap(server: LocalServer) -> None:
    server.route("/stream", Reply(body=b"y" * 65536, chunked=True, repeat=10_000))  # 655 MB offered
    sink = io.BytesIO()
    with pytest.raises(FileTooLargeError):
        await fetch(f"{server.url}/stream", sink=sink, limits=LIMITS, policy=LOOPBACK_ONLY, network=Network())
    assert len(sink.getvalue()) <= LIMITS.max_bytes


async def test_the_head_check_stops_the_transfer_early(server: LocalServer) -> None:
    server.route("/stream", Reply(body=b"\x00" * 65536, chunked=True, repeat=10_000))
    sink = io.BytesIO()
    seen: list[int] = []

    def refuse(head: bytes, length: int | None) -> int:
        seen.append(len(head))
        raise UnsupportedMediaError("binary")

    with pytest.raises(UnsupportedMediaError):
        await fetch(
            f"{server.url}/stream",
            sink=sink,
            limits=LIMITS,
            policy=LOOPBACK_ONLY,
            network=Network(),
            check_head=refuse,
        )
    assert seen == [8192]
    assert len(sink.getvalue()) == 0


async def test_a_slow_server_hits_the_time_cap(server: LocalServer) -> None:
    def slow(_path: str) -> Reply:
        time.sleep(3)
        return Reply(body=b"late")

    server.route("/slow", slow)
    with pytest.raises(FetchFailedError, match=r"the fetch took longer than 0.5 s"):
        await _fetch(f"{server.url}/slow", limits=FetchLimits(max_bytes=1024, timeout_s=0.5))


@pytest.mark.parametrize("host", ["a..b", "x" * 300 + ".test"])
async def test_names_idna_cannot_encode_do_not_resolve(host: str) -> None:
    # The system resolver refuses these while encoding them, before any DNS query.
    recorder = Recorder()
    network = Network(resolver=system_resolver, transport=recorder)
    with pytest.raises(FetchFailedError, match="the name does not resolve"):
        await fetch(
            f"http://{host}/", sink=io.BytesIO(), limits=LIMITS, policy=AddressPolicy(), network=network
        )
    assert recorder.requests == []


def _tls_for(name: str, tmp_path: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a self-signed certificate for ``name``, and a client context
    that trusts exactly that certificate (and checks the host name)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


async def test_https_connects_to_the_checked_address_with_the_names_sni_and_certificate(
    tmp_path: Path,
) -> None:
    server_tls, client_tls = _tls_for("media.test", tmp_path)
    with local_http_server(tls=server_tls) as server:
        server.route("/dot.bin", Reply(body=b"z" * 10))
        resolver = StubResolver({"media.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]})
        recorder = Recorder()

        def verified() -> httpx.AsyncBaseTransport:
            recorder()  # counted like the others
            return httpx.AsyncHTTPTransport(verify=client_tls)

        network = Network(resolver=resolver, transport=verified)
        sink = io.BytesIO()
        await fetch(
            f"https://media.test:{server.port}/dot.bin",
            sink=sink,
            limits=LIMITS,
            policy=LOOPBACK_ONLY,
            network=network,
        )
        assert sink.getvalue() == b"z" * 10
        # TCP went to 127.0.0.1; TLS asked for the name and checked the certificate against it.
        assert server.server_names == ["media.test"]
        assert [s.host for s in server.seen] == [f"media.test:{server.port}"]
        # A name the certificate does not cover fails verification, though the address is the same.
        with pytest.raises(FetchFailedError, match=r"other\.test: ConnectError"):
            await fetch(
                f"https://other.test:{server.port}/dot.bin",
                sink=io.BytesIO(),
                limits=LIMITS,
                policy=LOOPBACK_ONLY,
                network=network,
            )
        assert server.server_names == ["media.test", "other.test"]
        assert len(server.seen) == 1
