"""The SSRF guard's connector against real sockets on loopback: a canary that must see no
connection, a receiver that must be reached only where allowed, one lookup per attempt."""

from __future__ import annotations

import ipaddress
import time

import pytest

from app.notifications.outbound import EXCERPT_BYTES, post
from tests.notifications.support import Receiver, canary, loopback_names, receiving


def tricky_urls(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/",
        f"http://2130706433:{port}/",  # decimal
        f"http://0x7f000001:{port}/",  # hex
        f"http://0x7f.0.0.1:{port}/",
        f"http://0177.0.0.1:{port}/",  # octal
        f"http://127.1:{port}/",  # short form
        f"http://127.000.000.001:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",  # IPv4-mapped IPv6
        f"http://[::ffff:7f00:1]:{port}/",
        f"http://[::127.0.0.1]:{port}/",  # IPv4-compatible
        f"http://[64:ff9b::7f00:1]:{port}/",  # NAT64
        f"http://[2002:7f00:1::]:{port}/",  # 6to4
        f"http://[::1]:{port}/",
        f"http://localhost:{port}/",
        f"http://LOCALHOST.:{port}/",
        f"http://api.localhost:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://user:pw@127.0.0.1:{port}/",
        f"http://example.com@127.0.0.1:{port}/",
        *(f"http://{name}:{port}/" for name in loopback_names()),  # names /etc/hosts maps to loopback
    ]


async def test_the_canary_on_loopback_sees_no_connection_from_any_tricky_url() -> None:
    with canary() as (port, peers):
        for url in tricky_urls(port):
            sent = await post(url, b"{}", [], allow_private=False, timeout=3)
            assert sent.result.failure == "refused", (url, sent)
            assert sent.result.status_code is None and sent.address is None
        time.sleep(0.3)
        assert peers == []


async def test_a_name_is_resolved_once_and_only_the_checked_address_is_used() -> None:
    calls: list[str] = []

    async def resolver(host: str, port: int):
        calls.append(host)
        return [ipaddress.ip_address("127.0.0.1")] if len(calls) == 1 else [ipaddress.ip_address("10.9.9.9")]

    with receiving(Receiver()) as receiver, canary() as (port, peers):
        refused = await post(
            f"http://rebind.test:{port}/", b"{}", [], allow_private=False, timeout=3, resolver=resolver
        )
        assert refused.result.failure == "refused" and "rebind.test resolves to 127.0.0.1" in str(
            refused.result.error
        )
        calls.clear()
        sent = await post(
            f"http://rebind.test:{receiver.port}/hook",
            b"{}",
            [],
            allow_private=True,
            timeout=3,
            resolver=resolver,
        )
        assert sent.result.status_code == 200 and sent.address == "127.0.0.1"
        assert calls == ["rebind.test"]  # httpcore never looked the name up again
        assert receiver.received[0].headers["host"] == f"rebind.test:{receiver.port}"
        assert peers == []


async def test_one_refused_address_among_others_refuses_the_name() -> None:
    async def resolver(host: str, port: int):
        return [ipaddress.ip_address("93.184.216.34"), ipaddress.ip_address("169.254.169.254")]

    sent = await post("http://mixed.test/", b"{}", [], allow_private=True, timeout=3, resolver=resolver)
    assert sent.result.failure == "refused" and "metadata" in str(sent.result.error)


async def test_redirects_are_answers_not_followed() -> None:
    with canary() as (port, peers), receiving(Receiver(redirect_to=f"http://127.0.0.1:{port}/")) as receiver:
        sent = await post(receiver.url, b"{}", [], allow_private=True, timeout=3)
        assert sent.result.status_code == 302
        time.sleep(0.3)
        assert peers == [] and len(receiver.received) == 1


async def test_answers_are_read_up_to_a_cap_and_slow_receivers_time_out() -> None:
    with receiving(Receiver(script=[299], hang=5, hang_on={1})) as receiver:
        big = await post(receiver.url, b"{}", [], allow_private=True, timeout=3)
        assert big.result.status_code == 299 and big.excerpt is not None and len(big.excerpt) == EXCERPT_BYTES
        started = time.monotonic()
        slow = await post(receiver.url, b"{}", [], allow_private=True, timeout=1)
        assert slow.result.failure == "timeout" and time.monotonic() - started < 3
        nul = await post(receiver.url, b"{}", [], allow_private=True, timeout=3)
        assert nul.excerpt == "answer 200"  # NUL characters are dropped (PostgreSQL text cannot hold them)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "http://[::1", "http://exa mple.com/"])
async def test_unusable_urls_never_connect(url: str) -> None:
    sent = await post(url, b"{}", [], allow_private=True, timeout=3)
    assert sent.result.failure == "refused"
