"""IPv4 addresses for synthetic flows: RFC 1918 private hosts and public unicast hosts."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from shieldx.camouflage.synth.distributions import Categorical

UInt32Array = NDArray[np.uint32]

PRIVATE_NETWORKS = Categorical({"10.0.0.0/8": 60, "192.168.0.0/16": 25, "172.16.0.0/12": 15})
# Never emitted as a "public" address: private, shared, loopback, link-local, documentation,
# benchmarking, relay, multicast and reserved space (RFC 6890 and friends).
NOT_PUBLIC = (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
    "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class AddressSpace:
    """Samples host addresses (last octet 1-254) from private or public space, uniformly."""

    public_starts: NDArray[np.int64] = field(init=False, repr=False)
    public_offsets: NDArray[np.int64] = field(init=False, repr=False)
    private_starts: NDArray[np.int64] = field(init=False, repr=False)
    private_sizes: NDArray[np.int64] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Work in /24 blocks: every excluded range is /24-aligned, so a block is either
        # wholly public or not, and the host octet is drawn separately.
        excluded = sorted(
            (int(net.network_address) >> 8, net.num_addresses >> 8)
            for net in map(ipaddress.ip_network, NOT_PUBLIC)
        )
        starts, sizes, cursor = [], [], 0
        for start, size in excluded:
            if start > cursor:
                starts.append(cursor)
                sizes.append(start - cursor)
            cursor = max(cursor, start + size)
        if cursor < 1 << 24:
            starts.append(cursor)
            sizes.append((1 << 24) - cursor)
        networks = [ipaddress.ip_network(name) for name in PRIVATE_NETWORKS.values]
        self._freeze("public_starts", starts)
        self._freeze("public_offsets", np.cumsum([0, *sizes]))
        self._freeze("private_starts", [int(net.network_address) >> 8 for net in networks])
        self._freeze("private_sizes", [net.num_addresses >> 8 for net in networks])

    def _freeze(self, name: str, values: object) -> None:
        """Set a read-only int64 array field on this frozen instance."""
        array = np.asarray(values, dtype=np.int64)
        array.flags.writeable = False
        object.__setattr__(self, name, array)

    def sample(self, uniforms: NDArray[np.float64], private: NDArray[np.bool_]) -> UInt32Array:
        """One address per row from three uniforms per row; `private` picks the space."""
        block = np.empty(len(private), dtype=np.int64)
        network = PRIVATE_NETWORKS.pick(uniforms[:, 0])
        block_in = (uniforms[:, 1] * self.private_sizes[network]).astype(np.int64)
        block[private] = (self.private_starts[network] + block_in)[private]
        total = int(self.public_offsets[-1])
        index = (uniforms[:, 1] * total).astype(np.int64)
        interval = np.searchsorted(self.public_offsets, index, side="right") - 1
        public_block = self.public_starts[interval] + index - self.public_offsets[interval]
        block[~private] = public_block[~private]
        host = 1 + (uniforms[:, 2] * 254).astype(np.int64)
        return ((block << 8) | host).astype(np.uint32)


def format_ipv4(addresses: UInt32Array) -> list[str]:
    """Dotted-quad strings."""
    octets = addresses.astype(">u4").view(np.uint8).reshape(-1, 4).tolist()
    return [f"{a}.{b}.{c}.{d}" for a, b, c, d in octets]
