"""One webhook POST, safe to aim at a URL a client chose (SSRF).

The host is resolved once; every resolved address must pass the ``CallbackPolicy`` (no loopback,
private, link-local, metadata or other non-public address unless the deployment allows its network), and
the connection goes to the address that was checked: no second lookup between check and connect. TLS is
verified against the host name (SNI and certificate), not the address. Redirects are not followed (a 3xx
is a failed attempt), every socket operation has a timeout and the whole exchange a deadline, and at most
``max_response_bytes`` of the answer are read. Name resolution counts against the deadline too. No
error names the host: ``lastError`` is shown by ``GET /export/{jobId}`` and logged.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from export_common.callbacks import DEFAULT_PORTS, USER_AGENT, CallbackPolicy, CallbackUrlError, IpAddress

Resolver = Callable[[str, int], list[IpAddress]]
Connector = Callable[[IpAddress, int, float], socket.socket]


@dataclass(frozen=True)
class SendResult:
    """How one attempt ended: ``status`` is None when no HTTP answer came; ``error`` says why it failed."""

    delivered: bool
    status: int | None
    error: str | None = None


def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself, without DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[IpAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _resolve_before(resolver: Resolver, host: str, port: int, deadline: float) -> list[IpAddress]:
    """``resolver(host, port)`` inside the attempt's deadline; ``TimeoutError`` past it.

    ``getaddrinfo`` takes no timeout, so the lookup runs on a daemon thread that is abandoned when the
    deadline passes (it ends with the system resolver's own timeout).
    """
    found: list[IpAddress] = []
    failed: list[BaseException] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            found.extend(resolver(host, port))
        except BaseException as error:
            failed.append(error)
        finally:
            done.set()

    threading.Thread(target=lookup, name="webhook-dns", daemon=True).start()
    if not done.wait(max(deadline - time.monotonic(), 0)):
        raise TimeoutError
    if failed:
        raise failed[0]
    return found


def connect(address: IpAddress, port: int, timeout: float) -> socket.socket:
    return socket.create_connection((str(address), port), timeout=timeout)


class _PinnedConnection(http.client.HTTPConnection):
    """An HTTP connection over a socket already connected (and, for https, already TLS-wrapped)."""

    def __init__(self, host: str, port: int, sock: socket.socket, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.sock = sock

    def connect(self) -> None:  # the socket is given; never dial (that would look the name up again)
        raise ConnectionError("pinned connection closed")


def _read_capped(response: http.client.HTTPResponse, limit: int, deadline: float) -> None:
    """Reads (and drops) at most ``limit`` bytes of the answer, before ``deadline``."""
    left = limit
    while left > 0 and time.monotonic() < deadline:
        chunk = response.read(min(left, 8192))
        if not chunk:
            return
        left -= len(chunk)


def post_webhook(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    policy: CallbackPolicy,
    timeout_seconds: float,
    max_response_bytes: int,
    resolver: Resolver = resolve,
    connector: Connector = connect,
    tls_context: ssl.SSLContext | None = None,
) -> SendResult:
    """POSTs ``body`` to ``url``; never raises for anything the receiver or the network does."""
    try:
        parts = policy.check_url(url)
    except CallbackUrlError as refused:
        return SendResult(False, None, str(refused))
    host = parts.hostname or ""
    https = parts.scheme.lower() == "https"
    port = parts.port or DEFAULT_PORTS[parts.scheme.lower()]
    deadline = time.monotonic() + timeout_seconds
    try:
        addresses = _resolve_before(resolver, host, port, deadline)
    except TimeoutError:
        return SendResult(False, None, f"name resolution timed out after {timeout_seconds:g} s")
    except (OSError, ValueError) as error:
        return SendResult(False, None, f"could not resolve the host: {type(error).__name__}")
    if not addresses:
        return SendResult(False, None, "could not resolve the host")
    try:
        for address in addresses:  # one refused address refuses the host (DNS rebinding)
            policy.check_address(address)
    except CallbackUrlError as refused:
        return SendResult(False, None, str(refused))

    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_error = "no address answered"
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return SendResult(False, None, f"timed out after {timeout_seconds:g} s")
        try:
            sock = connector(address, port, remaining)
        except OSError as error:
            last_error = f"could not connect: {_reason(error)}"
            continue
        request = _Request(host, port, https, target, body, headers)
        return _exchange(sock, request, deadline, max_response_bytes, tls_context)
    return SendResult(False, None, last_error)


@dataclass(frozen=True)
class _Request:
    host: str
    port: int
    https: bool
    target: str
    body: bytes
    headers: Mapping[str, str]


def _exchange(
    sock: socket.socket,
    request: _Request,
    deadline: float,
    max_response_bytes: int,
    tls_context: ssl.SSLContext | None,
) -> SendResult:
    conn: _PinnedConnection | None = None
    try:
        sock.settimeout(max(deadline - time.monotonic(), 0.001))
        if request.https:
            context = tls_context or ssl.create_default_context()
            sock = context.wrap_socket(sock, server_hostname=request.host)
        conn = _PinnedConnection(
            request.host, request.port, sock, timeout=max(deadline - time.monotonic(), 0.001)
        )
        all_headers: dict[str, Any] = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Connection": "close",
            **request.headers,
        }
        conn.request("POST", request.target, body=request.body, headers=all_headers)
        response = conn.getresponse()
        _read_capped(response, max_response_bytes, deadline)
        status = response.status
    except TimeoutError:
        return SendResult(False, None, "timed out")
    except ssl.SSLError as error:
        return SendResult(False, None, f"TLS failed: {_reason(error)}")
    except (OSError, http.client.HTTPException) as error:
        return SendResult(False, None, f"the receiver did not answer properly: {_reason(error)}")
    finally:
        if conn is not None:
            conn.close()
        else:
            sock.close()
    if 200 <= status < 300:
        return SendResult(True, status)
    if 300 <= status < 400:
        return SendResult(False, status, f"HTTP {status}: redirects are not followed")
    return SendResult(False, status, f"HTTP {status}")


def _reason(error: BaseException) -> str:
    """A short reason without addresses of our own network or stack details."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return "certificate not valid for the host"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return type(error).__name__
