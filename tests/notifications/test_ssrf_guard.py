"""The SSRF guard's pure part, property-tested: URLs people could use to reach this machine, its
network or a cloud's metadata service are refused in every spelling; global addresses pass."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.notifications.ssrf import METADATA, Refused, address_refusal, name_refusal, parse_target

PRIVATE_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "100.64.0.0/10",
        "192.0.2.0/24",
        "198.18.0.0/15",
    )
]
ALWAYS_V4 = [ipaddress.ip_network(n) for n in ("0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4")]


def in_network(network: ipaddress.IPv4Network) -> st.SearchStrategy[ipaddress.IPv4Address]:
    first, last = int(network.network_address), int(network.broadcast_address)
    return st.integers(first, last).map(ipaddress.IPv4Address)


private_v4 = st.one_of(*(in_network(n) for n in PRIVATE_V4))
always_v4 = st.one_of(*(in_network(n) for n in ALWAYS_V4))
global_v4 = (
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address).filter(lambda a: a.is_global and not a.is_multicast)
)


def v6_forms(address: ipaddress.IPv4Address) -> list[ipaddress.IPv6Address]:
    """The IPv6 addresses that carry ``address``: mapped, compatible, 6to4 and NAT64."""
    n = int(address)
    forms = [
        ipaddress.IPv6Address(f"::ffff:{address}"),
        ipaddress.IPv6Address((0x2002 << 112) | (n << 80)),
        ipaddress.IPv6Address((0x64FF9B << 96) | n),
    ]
    if n > 1:  # ::0.0.0.0 and ::0.0.0.1 are IPv6's own unspecified and loopback addresses
        forms.append(ipaddress.IPv6Address(n))
    return forms


@settings(max_examples=300)
@given(private_v4)
def test_private_addresses_are_refused_in_every_form_unless_allowed(address) -> None:
    for form in [address, *v6_forms(address)]:
        assert address_refusal(form, allow_private=False) is not None, form
        assert address_refusal(form, allow_private=True) is None, form


@settings(max_examples=200)
@given(always_v4)
def test_unspecified_multicast_and_reserved_addresses_are_refused_always(address) -> None:
    for form in [address, *v6_forms(address)]:
        assert address_refusal(form, allow_private=True) is not None, form


@settings(max_examples=300)
@given(global_v4)
def test_global_addresses_pass_in_every_form(address) -> None:
    for form in [address, *v6_forms(address)]:
        assert address_refusal(form, allow_private=False) is None, form


def test_metadata_addresses_are_refused_even_when_private_ones_are_allowed() -> None:
    for address in [*METADATA, ipaddress.ip_address("::ffff:169.254.169.254")]:
        assert "metadata" in (address_refusal(address, allow_private=True) or ""), address
    for text in ("::1", "fe80::1", "fc00::1", "fd12:3456::1"):
        assert address_refusal(ipaddress.ip_address(text), allow_private=False) is not None
        assert address_refusal(ipaddress.ip_address(text), allow_private=True) is None
    assert address_refusal(ipaddress.ip_address("2606:4700:4700::1111"), allow_private=False) is None


@settings(max_examples=300)
@given(private_v4)
def test_numeric_host_spellings_are_refused_before_any_lookup(address) -> None:
    n = int(address)
    octets = str(address).split(".")
    spellings = [
        str(n),  # 2130706433
        hex(n),  # 0x7f000001
        ".".join(f"0{int(o):o}" for o in octets),  # 0177.0.0.01
        ".".join(hex(int(o)) for o in octets),  # 0x7f.0x0.0x0.0x1
        f"{octets[0]}.{n & 0xFFFFFF}",  # 127.1
    ]
    for host in spellings:
        with pytest.raises(Refused):
            parse_target(f"http://{host}/hook")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:pw@example.com/",
        "http://example.com@127.0.0.1/",
        "http://[fe80::1%25eth0]/",
        "http://[::1/",
        "http://example.com:0/",
        "http://example.com:99999/",
        "http://example.com:x/",
        "http:///path",
        "http://exa mple.com/",
        "http://exa\\mple.com/",
        "http://ex_ample.com/",
        "http://münchen.de/",
        "//example.com/",
        "example.com",
    ],
)
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        parse_target(url)


def test_urls_are_parsed_into_what_the_connector_uses() -> None:
    target = parse_target("HTTPS://Hooks.Example.COM./a/b?x=1#frag")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.com",
        443,
        "/a/b?x=1",
    )
    assert target.authority == "hooks.example.com" and target.literal is None
    v6 = parse_target("http://[2001:db8::1]:8080")
    assert v6.authority == "[2001:db8::1]:8080" and v6.path == "/" and v6.literal is not None
    assert parse_target("http://192.0.2.10:81/x").literal == ipaddress.ip_address("192.0.2.10")


def test_names_of_this_machine_are_refused_unless_private_addresses_are_allowed() -> None:
    for host in ("localhost", "api.localhost"):
        assert name_refusal(host, allow_private=False)
        assert name_refusal(host, allow_private=True) is None
    assert name_refusal("example.com", allow_private=False) is None


@settings(max_examples=500)
@given(st.text(max_size=300))
def test_any_text_is_parsed_or_refused_never_crashes(text: str) -> None:
    try:
        target = parse_target(text)
    except Refused:
        return
    assert target.scheme in ("http", "https") and target.path.startswith("/")


@settings(max_examples=300)
@given(
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,20}){0,3}", fullmatch=True).filter(
        lambda h: not h.endswith("-") and "-." not in h
    ),
    st.integers(1, 65535),
    st.from_regex(r"(/[A-Za-z0-9._~-]{0,10}){0,4}", fullmatch=True),
)
def test_ordinary_urls_round_trip(scheme: str, host: str, port: int, path: str) -> None:
    target = parse_target(f"{scheme}://{host}:{port}{path}")
    assert (target.host, target.port, target.path) == (host, port, path or "/")
    assert parse_target(target.url) == target
