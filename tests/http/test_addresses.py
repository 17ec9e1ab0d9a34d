"""Only public addresses, and non-public ones inside the allowed networks, may be fetched."""

from __future__ import annotations

import pytest

from ingest.http.addresses import address_allowed, parse_networks, resolve

LOOPBACK = parse_networks(["127.0.0.0/8", "::1/128"])


@pytest.mark.parametrize("address", [
    "10.1.2.3", "172.16.0.1", "192.168.1.1",  # private
    "169.254.169.254", "fe80::1", "fe80::1%eth0",  # link-local, cloud metadata among them
    "fc00::1", "100.64.0.1", "0.0.0.0", "224.0.0.1", "240.0.0.1", "::",  # unique-local, shared, unspecified, ...
    "::ffff:10.0.0.1", "::ffff:169.254.169.254",  # IPv4-mapped: judged as the IPv4 address
])
def test_non_public_addresses_are_refused(address):
    assert not address_allowed(address, LOOPBACK)


@pytest.mark.parametrize("address", ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert address_allowed(address, ())


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_allowed_only_when_listed(address):
    assert address_allowed(address, LOOPBACK)
    assert not address_allowed(address, ())


def test_a_listed_network_admits_its_addresses_only():
    lab = parse_networks(["10.20.0.0/16"])
    assert address_allowed("10.20.3.4", lab) and not address_allowed("10.21.3.4", lab)


def test_a_bad_network_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match="nope"):
        parse_networks(["10.0.0.0/8", "nope"])


async def test_resolving_a_name_and_a_literal():
    assert "127.0.0.1" in await resolve("localhost")
    assert await resolve("127.0.0.2") == ["127.0.0.2"]
