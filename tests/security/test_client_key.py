"""``rainmaker.http.client_key``: one key per client, however its address is spelled."""

from __future__ import annotations

import pytest

from rainmaker.http import client_key, connection_client_key


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.7", "198.51.100.7"),
        (" 198.51.100.7 ", "198.51.100.7"),
        ("198.51.100.7:5123", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("::FFFF:c633:6407", "198.51.100.7"),
        ("[::ffff:198.51.100.7]:443", "198.51.100.7"),
        ("2001:db8::7", "2001:db8::/64"),
        ("2002:c633:6407::1", "198.51.100.7"),  # 6to4: the /48 of one IPv4 host
        ("2002:c633:6407:ffff::9", "198.51.100.7"),
        ("2001:0:4136:e378:8000:63bf:39cc:9bf8", "198.51.100.7"),  # Teredo (RFC 4380)
        ("2001:DB8:0:0:0:0:0:7", "2001:db8::/64"),
        ("2001:0db8::ffff:1234", "2001:db8::/64"),
        ('"[2001:db8::7]:443"', "2001:db8::/64"),  # RFC 7239 Forwarded: for="[...]:port"
        ("fe80::1%eth0", "fe80::/64"),
        ("2001:db8:0:1::7", "2001:db8:0:1::/64"),
        ("testclient", "testclient"),  # no address (a test client, a socket path): as is
        ("", "unknown"),
        (None, "unknown"),
    ],
)
def test_one_key_per_client(address: str | None, key: str) -> None:
    assert client_key(address) == key


def test_the_ipv6_prefix_is_chosen_by_the_caller() -> None:
    assert client_key("2001:db8:1:2::7", ipv6_prefix=48) == "2001:db8:1::/48"
    assert client_key("2001:db8::7", ipv6_prefix=128) == "2001:db8::7/128"
    assert client_key("198.51.100.7", ipv6_prefix=48) == "198.51.100.7"  # IPv4: always one
    with pytest.raises(ValueError, match="between 1 and 128"):
        client_key("2001:db8::7", ipv6_prefix=0)


def test_a_scope_without_client_is_unknown() -> None:
    assert connection_client_key({"type": "http"}) == "unknown"
    assert connection_client_key({"client": ("2001:db8::7", 1)}) == "2001:db8::/64"
