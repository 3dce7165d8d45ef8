"""The webhook POST against real sockets on 127.0.0.1: pinned address, no redirects, timeout, size cap."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from export_callbacks.sender import connect, post_webhook
from export_common.callbacks import CallbackPolicy, IpAddress
from tests.webhook_receiver import receiving

# test receivers listen on ephemeral ports
LOCAL = CallbackPolicy.from_lists(["http"], ["127.0.0.0/8"], ["1024-65535"])
PROD = CallbackPolicy.from_lists(["https", "http"], [], ["1024-65535"])
BODY = b'{"jobId":"j","status":"SUCCEEDED"}'


def _port(url: str) -> int:
    return urlsplit(url).port or 80


def test_a_2xx_answer_is_a_delivery_and_the_request_is_as_signed() -> None:
    with receiving([204]) as receiver:
        result = post_webhook(
            receiver.url + "?tenant=7",
            BODY,
            {"x-base44-signature": "ab" * 32},
            policy=LOCAL,
            timeout_seconds=5,
            max_response_bytes=1024,
        )
        seen = receiver.wait_for(1, 5)
    assert (result.delivered, result.status, result.error) == (True, 204, None)
    assert seen[0].path == "/hooks/export?tenant=7"
    assert seen[0].body == BODY
    assert seen[0].headers["x-base44-signature"] == "ab" * 32
    assert seen[0].headers["content-type"] == "application/json"


def test_the_connection_goes_to_the_checked_address_without_a_second_lookup() -> None:
    # Given a host name that only our resolver knows, resolving to the receiver's loopback address
    lookups: list[str] = []
    dialled: list[IpAddress] = []

    def resolver(host: str, port: int) -> list[IpAddress]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    def connector(address: IpAddress, port: int, timeout: float) -> socket.socket:
        dialled.append(address)
        return connect(address, port, timeout)

    with receiving([200]) as receiver:
        url = f"http://hooks.invalid:{_port(receiver.url)}/hooks/export"
        result = post_webhook(
            url, BODY, {}, policy=LOCAL, timeout_seconds=5, max_response_bytes=1024,
            resolver=resolver, connector=connector,
        )  # fmt: skip
        seen = receiver.wait_for(1, 5)

    # Then the name was resolved once, the checked address dialled, and the Host header kept the name
    assert result.delivered, result
    assert lookups == ["hooks.invalid"]
    assert dialled == [ipaddress.ip_address("127.0.0.1")]
    assert seen[0].headers["host"] == f"hooks.invalid:{_port(receiver.url)}"


@pytest.mark.parametrize(
    "resolved",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["172.16.5.4"],
        ["192.168.0.10"],
        ["169.254.169.254"],
        ["::1"],
        ["fc00::5"],
        ["fe80::1"],
        ["::ffff:10.0.0.1"],
        ["93.184.216.34", "10.0.0.1"],  # one bad answer spoils the name (DNS rebinding)
    ],
)
def test_a_name_resolving_to_a_non_public_address_is_never_dialled(resolved: list[str]) -> None:
    dialled: list[IpAddress] = []

    def connector(address: IpAddress, port: int, timeout: float) -> socket.socket:
        dialled.append(address)
        raise AssertionError("must not connect")

    result = post_webhook(
        "https://hooks.example.com/x", BODY, {}, policy=PROD, timeout_seconds=5, max_response_bytes=1024,
        resolver=lambda host, port: [ipaddress.ip_address(a) for a in resolved], connector=connector,
    )  # fmt: skip
    assert not result.delivered
    assert result.status is None
    assert "public" in (result.error or "")
    assert dialled == []


def test_a_redirect_is_not_followed() -> None:
    with receiving([200]) as target, receiving([("redirect", target.url)]) as receiver:
        result = post_webhook(
            receiver.url, BODY, {}, policy=LOCAL, timeout_seconds=5, max_response_bytes=1024
        )
        assert receiver.wait_for(1, 5)
        time.sleep(0.2)
        assert target.received == []
    assert (result.delivered, result.status) == (False, 302)
    assert "redirects are not followed" in (result.error or "")


def test_a_receiver_that_never_answers_times_out() -> None:
    with receiving(["hang"]) as receiver:
        started = time.monotonic()
        result = post_webhook(
            receiver.url, BODY, {}, policy=LOCAL, timeout_seconds=1, max_response_bytes=1024
        )
        elapsed = time.monotonic() - started
    assert not result.delivered
    assert result.status is None
    assert "timed out" in (result.error or "")
    assert elapsed < 3


def test_at_most_the_size_cap_of_the_answer_is_read() -> None:
    # Given a receiver that answers 200 and then streams a body without end
    with receiving(["stream"]) as receiver:
        started = time.monotonic()
        result = post_webhook(
            receiver.url, BODY, {}, policy=LOCAL, timeout_seconds=10, max_response_bytes=4096
        )
        elapsed = time.monotonic() - started
    # Then the attempt counts, and ends long before the timeout (only the capped bytes were read)
    assert (result.delivered, result.status) == (True, 200)
    assert elapsed < 5


def test_a_refused_connection_is_a_failed_attempt_without_status() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = post_webhook(
        f"http://127.0.0.1:{port}/x", BODY, {}, policy=LOCAL, timeout_seconds=2, max_response_bytes=1024
    )
    assert (result.delivered, result.status) == (False, None)
    assert "connection refused" in (result.error or "")


def test_the_url_policy_applies_at_delivery_too() -> None:
    result = post_webhook(
        "http://example.com/x", BODY, {}, policy=CallbackPolicy(), timeout_seconds=2, max_response_bytes=1
    )
    assert (result.delivered, result.error) == (False, "callbackUrl must use https")


def _tls_receiver_context(tmp_path: Path, host: str) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A self-signed certificate for ``host``: the server's context and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    return server, client


@pytest.mark.parametrize(("url_host", "delivered"), [("hooks.test", True), ("other.test", False)])
def test_https_goes_to_the_checked_address_and_verifies_the_host_name(
    tmp_path: Path, url_host: str, delivered: bool
) -> None:
    # Given a TLS receiver on 127.0.0.1 whose certificate names hooks.test, and names resolving there
    server_context, client_context = _tls_receiver_context(tmp_path, "hooks.test")
    with receiving([200], tls=server_context) as receiver:
        url = f"https://{url_host}:{_port(receiver.url)}/hooks/export"
        result = post_webhook(
            url, BODY, {}, policy=CallbackPolicy.from_lists(["https"], ["127.0.0.0/8"], ["1024-65535"]),
            timeout_seconds=5, max_response_bytes=1024,
            resolver=lambda host, port: [ipaddress.ip_address("127.0.0.1")], tls_context=client_context,
        )  # fmt: skip

    # Then the name on the certificate decides, not the address that was dialled
    assert result.delivered is delivered, result
    if not delivered:
        assert result.error == "TLS failed: certificate not valid for the host"


def test_name_resolution_counts_against_the_deadline() -> None:
    # Given a resolver that hangs far past the attempt's deadline
    def hanging(host: str, port: int) -> list[IpAddress]:
        time.sleep(30)
        return [ipaddress.ip_address("127.0.0.1")]

    started = time.monotonic()
    result = post_webhook(
        "http://slow.hooks.invalid:8080/x", BODY, {}, policy=LOCAL, timeout_seconds=0.5,
        max_response_bytes=1, resolver=hanging,
    )  # fmt: skip
    # Then the attempt ends at the deadline, as a failure without status
    assert time.monotonic() - started < 2
    assert (result.delivered, result.status) == (False, None)
    assert result.error is not None and "timed out" in result.error


@pytest.mark.parametrize(
    "resolver",
    [
        lambda host, port: (_ for _ in ()).throw(socket.gaierror("no such name")),
        lambda host, port: [],
    ],
)
def test_errors_never_name_the_host(resolver: Callable[[str, int], list[IpAddress]]) -> None:
    result = post_webhook(
        "http://secret-tenant.hooks.invalid:8080/x", BODY, {}, policy=LOCAL, timeout_seconds=1,
        max_response_bytes=1, resolver=resolver,
    )  # fmt: skip
    assert result.error is not None and "secret-tenant" not in result.error


def test_an_unreachable_host_is_not_named_either() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = post_webhook(
        f"http://secret-tenant.hooks.invalid:{port}/x", BODY, {}, policy=LOCAL, timeout_seconds=2,
        max_response_bytes=1, resolver=lambda host, p: [ipaddress.ip_address("127.0.0.1")],
    )  # fmt: skip
    assert result.error == "could not connect: connection refused"
