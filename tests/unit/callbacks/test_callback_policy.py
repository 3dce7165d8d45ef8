"""Which callback URLs and resolved addresses a webhook may go to (SSRF), and the retry schedule."""

from __future__ import annotations

import ipaddress

import pytest

from export_common.callbacks import (
    MIN_RETRY_WINDOW_SECONDS,
    CallbackPolicy,
    CallbackSchedule,
    CallbackUrlError,
    callback_path,
)

PROD = CallbackPolicy()
LOCAL = CallbackPolicy.from_lists(["https", "http"], ["127.0.0.0/8"], ["1024-65535"])


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.254",
        "192.168.1.1",
        "169.254.169.254",  # instance metadata
        "169.254.0.1",
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",  # noqa: S104 - an address refused, not a bind
        "224.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd00:ec2::254",  # instance metadata over IPv6
        "fe80::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "ff02::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(CallbackUrlError, match="public"):
        PROD.check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    PROD.check_address(ipaddress.ip_address(address))


def test_an_allowed_network_is_exempt_and_nothing_else() -> None:
    LOCAL.check_address(ipaddress.ip_address("127.0.0.1"))
    LOCAL.check_address(ipaddress.ip_address("::ffff:127.0.0.1"))
    for other in ("10.0.0.1", "169.254.169.254", "::1"):
        with pytest.raises(CallbackUrlError):
            LOCAL.check_address(ipaddress.ip_address(other))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://example.com/hook", "must use https"),
        ("ftp://example.com/hook", "must use https"),
        ("https:///hook", "must name a host"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://example.com/hook#frag", "fragment"),
        ("https://example.com:99999/hook", "port"),
        ("https://example.com/a b", "printable ASCII"),
        ("https://exämple.com/hook", "printable ASCII"),
        ("https://127.0.0.1/hook", "public"),
        ("https://[::1]/hook", "public"),
        ("https://169.254.169.254/latest/meta-data", "public"),
        ("https://example.com/" + "a" * 2100, "at most 2048"),
    ],
)
def test_urls_the_production_policy_refuses(url: str, reason: str) -> None:
    with pytest.raises(CallbackUrlError, match=reason):
        PROD.check_url(url)


def test_urls_accepted() -> None:
    assert PROD.check_url("https://hooks.example.com/export?tenant=1").hostname == "hooks.example.com"
    assert LOCAL.check_url("http://127.0.0.1:8080/hooks/export").port == 8080


@pytest.mark.parametrize(
    ("policy", "url", "accepted"),
    [
        (PROD, "https://hooks.example.com/x", True),
        (PROD, "https://hooks.example.com:443/x", True),
        (PROD, "https://hooks.example.com:22/x", False),
        (PROD, "https://hooks.example.com:80/x", False),  # 80 only where http is allowed
        (PROD, "https://hooks.example.com:8443/x", False),
        (LOCAL, "http://hooks.example.com/x", True),
        (LOCAL, "https://hooks.example.com:80/x", True),
        (LOCAL, "http://127.0.0.1:8080/x", True),
        (LOCAL, "http://hooks.example.com:22/x", False),
        (LOCAL, "http://hooks.example.com:1023/x", False),
    ],
)
def test_ports_are_the_schemes_own_plus_the_deployments_extra(
    policy: CallbackPolicy, url: str, accepted: bool
) -> None:
    if accepted:
        policy.check_url(url)
    else:
        with pytest.raises(CallbackUrlError, match="port"):
            policy.check_url(url)


def test_port_ranges_are_checked_when_read() -> None:
    with pytest.raises(ValueError, match="port range"):
        CallbackPolicy.from_lists(["https"], [], ["0-80"])


def test_the_signed_path_is_the_url_path_as_written() -> None:
    assert callback_path("https://h.example/hooks/export?x=1") == "/hooks/export"
    assert callback_path("https://h.example/a%20b") == "/a%20b"
    assert callback_path("https://h.example") == "/"


def test_the_schedule_grows_exponentially_up_to_its_cap() -> None:
    schedule = CallbackSchedule(
        first_delay_seconds=30, backoff_factor=2, max_delay_seconds=600, max_attempts=8
    )
    assert [schedule.delay_after(n) for n in range(1, 8)] == [30, 60, 120, 240, 480, 600, 600]
    assert schedule.window_seconds() == 30 + 60 + 120 + 240 + 480 + 600 + 600


def test_the_default_schedule_retries_for_more_than_a_day() -> None:
    assert CallbackSchedule().window_seconds() >= MIN_RETRY_WINDOW_SECONDS
