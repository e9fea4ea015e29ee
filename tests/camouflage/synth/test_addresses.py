"""Address sampling: private hosts in RFC 1918, public hosts in global unicast space only."""

from __future__ import annotations

import ipaddress

import numpy as np

from shieldx.camouflage.synth.addresses import NOT_PUBLIC, AddressSpace, format_ipv4

SPACE = AddressSpace()


def test_format_ipv4() -> None:
    addresses = np.array([0x0A000001, 0xC0A80AFE, 0xFFFFFFFF], dtype=np.uint32)
    assert format_ipv4(addresses) == ["10.0.0.1", "192.168.10.254", "255.255.255.255"]


def test_public_hosts_are_global_unicast() -> None:
    uniforms = np.random.default_rng(1).random((50_000, 3))
    public = format_ipv4(SPACE.sample(uniforms, np.zeros(50_000, dtype=bool)))
    excluded = [ipaddress.ip_network(net) for net in NOT_PUBLIC]
    for text in public:
        address = ipaddress.ip_address(text)
        assert address.is_global and not address.is_multicast, text
        assert not any(address in net for net in excluded), text
        assert text.rsplit(".", 1)[1] not in {"0", "255"}


def test_the_edges_of_public_space_are_reachable() -> None:
    rows = np.array([[0.0, 0.0, 0.0], [0.0, 1 - 1e-12, 1 - 1e-12]])
    low, high = format_ipv4(SPACE.sample(rows, np.zeros(2, dtype=bool)))
    assert low == "1.0.0.1" and high == "223.255.255.254"


def test_private_hosts_are_rfc1918_with_the_weights() -> None:
    uniforms = np.random.default_rng(2).random((20_000, 3))
    private = [
        ipaddress.ip_address(a)
        for a in format_ipv4(SPACE.sample(uniforms, np.ones(20_000, dtype=bool)))
    ]
    networks = {
        name: ipaddress.ip_network(name)
        for name in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
    }
    shares = {name: np.mean([a in net for a in private]) for name, net in networks.items()}
    assert abs(shares["10.0.0.0/8"] - 0.60) < 0.02
    assert abs(shares["192.168.0.0/16"] - 0.25) < 0.02
    assert abs(shares["172.16.0.0/12"] - 0.15) < 0.02
    assert sum(shares.values()) == 1.0
