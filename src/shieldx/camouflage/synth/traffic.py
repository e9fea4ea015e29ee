"""Synthetic network flows: weighted protocols and ports, log-normal bytes, Poisson packets."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from shieldx.camouflage.synth.addresses import AddressSpace, format_ipv4
from shieldx.camouflage.synth.base import (
    Chunk,
    Kind,
    RecordGenerator,
    Streams,
    iso_micros,
    poisson_arrivals,
    run_start,
)
from shieldx.camouflage.synth.checks import (
    CategoryCheck,
    ColumnCheck,
    Extract,
    GridCheck,
    PoissonCheck,
    Table,
    arrival_gap_check,
)
from shieldx.camouflage.synth.distributions import (
    Categorical,
    Conditional,
    Grid,
    LogNormal,
    Uniform,
)

WINDOW_START = 1_704_067_200  # 2024-01-01T00:00:00Z: a run starts somewhere in 2024
WINDOW_SECONDS = 366 * 86_400
MEAN_GAP_SECONDS = 0.002  # 500 flows a second, as a Poisson process
MTU = 1500

PROTOCOL = Categorical({"TCP": 70, "UDP": 25, "ICMP": 5})
DIRECTION = Categorical({"outbound": 55, "inbound": 25, "internal": 20})
SRC_PRIVATE = frozenset({"outbound", "internal"})
DST_PRIVATE = frozenset({"inbound", "internal"})
NO_VALUE = Categorical[int | None]({None: 1})
SERVICE_PORT = Conditional(
    {
        "TCP": Categorical[int | None](
            {443: 42, 80: 14, 22: 6, 445: 3, 8080: 4, 8443: 3, 3389: 3, 3306: 3, 25: 2,
             587: 2, 993: 2, 5432: 2, 53: 2, 6379: 1, 21: 1, 23: 1, 110: 1, 143: 1, 9200: 1}
        ),
        "UDP": Categorical[int | None](
            {53: 50, 443: 18, 123: 10, 5353: 4, 161: 3, 514: 3, 67: 3, 1900: 3, 500: 2,
             4500: 2, 51820: 2}
        ),
        "ICMP": NO_VALUE,
    }
)  # fmt: skip
EPHEMERAL_PORT = Uniform(49152, 65536, Grid(1, rounding="floor"))
ICMP_TYPE = Conditional(
    {
        "TCP": NO_VALUE,
        "UDP": NO_VALUE,
        "ICMP": Categorical[int | None]({8: 55, 0: 30, 3: 10, 11: 5}),
    }
)
ICMP_CODE = Conditional(
    {
        None: NO_VALUE,
        8: Categorical[int | None]({0: 1}),
        0: Categorical[int | None]({0: 1}),
        3: Categorical[int | None]({3: 60, 1: 25, 13: 15}),
        11: Categorical[int | None]({0: 90, 1: 10}),
    }
)


@dataclass(frozen=True)
class FlowSize:
    """Bytes of one protocol's flows, and the packet sizes that turn bytes into packets."""

    bytes: LogNormal
    mean_packet: float
    header: int


# Bytes ~ LogNormal per protocol (floored to whole bytes, at least one minimal packet);
# packets | bytes ~ 1 + Poisson(bytes / mean_packet - 1), kept within what the bytes allow.
FLOW_SIZE: Mapping[str, FlowSize] = MappingProxyType(
    {
        "TCP": FlowSize(LogNormal(4500, 1.7, Grid(1, low=40, rounding="floor")), 700, 40),
        "UDP": FlowSize(LogNormal(200, 1.1, Grid(1, low=28, rounding="floor")), 180, 28),
        "ICMP": FlowSize(LogNormal(84, 0.45, Grid(1, low=28, rounding="floor")), 84, 28),
    }
)


@dataclass(frozen=True)
class FlowGenerator(RecordGenerator):
    """Network flow records (one line per flow, client to server) as from a flow collector."""

    kind: ClassVar[Kind] = Kind.TRAFFIC
    columns: ClassVar[tuple[str, ...]] = (
        "timestamp", "src_ip", "src_port", "dst_ip", "dst_port", "protocol", "icmp_type",
        "icmp_code", "direction", "packets", "bytes",
    )  # fmt: skip

    space: AddressSpace

    @classmethod
    def bundled(cls) -> FlowGenerator:
        """A generator over the whole IPv4 unicast space."""
        return cls(AddressSpace())

    def chunk(self, streams: Streams, first: int, size: int, clock: float) -> tuple[Chunk, float]:
        """Columns for `size` flows."""
        start = run_start(streams, WINDOW_START, WINDOW_SECONDS)
        times, clock = poisson_arrivals(streams.column("timestamp"), size, clock, MEAN_GAP_SECONDS)
        protocols = PROTOCOL.sample(streams.column("protocol"), size)
        directions = DIRECTION.sample(streams.column("direction"), size)
        src_private = np.array([d in SRC_PRIVATE for d in directions], dtype=bool)
        dst_private = np.array([d in DST_PRIVATE for d in directions], dtype=bool)
        sources = self.space.sample(streams.column("src_ip").random((size, 3)), src_private)
        targets = self.space.sample(streams.column("dst_ip").random((size, 3)), dst_private)
        ephemeral = EPHEMERAL_PORT.sample(streams.column("src_port"), size).astype(np.int64)
        icmp_types = ICMP_TYPE.sample(streams.column("icmp_type"), protocols)
        size_bytes, packets = self._sizes(streams, protocols)
        columns: Chunk = {
            "timestamp": iso_micros(start * 1_000_000 + (times * 1e6).astype(np.int64)),
            "src_ip": format_ipv4(sources),
            "src_port": [
                None if proto == "ICMP" else port
                for proto, port in zip(protocols, ephemeral.tolist(), strict=True)
            ],
            "dst_ip": format_ipv4(targets),
            "dst_port": SERVICE_PORT.sample(streams.column("dst_port"), protocols),
            "protocol": protocols,
            "icmp_type": icmp_types,
            "icmp_code": ICMP_CODE.sample(streams.column("icmp_code"), icmp_types),
            "direction": directions,
            "packets": packets.tolist(),
            "bytes": size_bytes.tolist(),
        }
        return columns, clock

    def _sizes(
        self, streams: Streams, protocols: list[str]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Bytes and packets per flow, consistent: header * packets <= bytes <= MTU * packets."""
        normals = streams.column("bytes").standard_normal(len(protocols))
        size_bytes = np.zeros(len(protocols), dtype=np.int64)
        header = np.zeros(len(protocols), dtype=np.int64)
        proto = np.array(protocols, dtype=object)
        for name, flow in FLOW_SIZE.items():
            rows = proto == name
            raw = flow.bytes.median * np.exp(flow.bytes.sigma * normals[rows])
            size_bytes[rows] = flow.bytes.grid.apply(raw).astype(np.int64)
            header[rows] = flow.header
        poisson = streams.column("packets").poisson(_rates(size_bytes, protocols))
        packets = np.clip(1 + poisson, -(-size_bytes // MTU), size_bytes // header)
        return size_bytes, packets

    def checks(self) -> tuple[ColumnCheck, ...]:
        """Each column against the distribution it is drawn from."""
        protocols = PROTOCOL.probabilities()
        directions = DIRECTION.probabilities()
        src_private = sum(p for d, p in directions.items() if d in SRC_PRIVATE)
        dst_private = sum(p for d, p in directions.items() if d in DST_PRIVATE)
        return (
            arrival_gap_check("timestamp", MEAN_GAP_SECONDS),
            CategoryCheck("protocol", protocols, "target weights (TCP 70%, UDP 25%, ICMP 5%)"),
            CategoryCheck("direction", directions, "target weights"),
            CategoryCheck(
                "src_ip.private",
                {True: src_private, False: 1 - src_private},
                "target: P(direction puts the source inside)",
                _private("src_ip"),
            ),
            CategoryCheck(
                "dst_ip.private",
                {True: dst_private, False: 1 - dst_private},
                "target: P(direction puts the destination inside)",
                _private("dst_ip"),
            ),
            GridCheck.of("src_port", EPHEMERAL_PORT),
            CategoryCheck(
                "dst_port",
                SERVICE_PORT.marginal(protocols),
                "target: sum of P(proto) P(port | proto)",
            ),
            CategoryCheck(
                "icmp_type",
                ICMP_TYPE.children["ICMP"].probabilities(),
                "target weights among ICMP flows",
                lambda table: [v for v in table["icmp_type"] if v is not None],
            ),
            GridCheck(
                "bytes",
                _bytes_cdf,
                1.0,
                "target mixture over protocols of "
                + "; ".join(f"{name}: {f.bytes.describe()}" for name, f in FLOW_SIZE.items()),
            ),
            PoissonCheck(
                "packets",
                lambda table: _rates(
                    np.asarray(table["bytes"], dtype=np.int64), [str(p) for p in table["protocol"]]
                ),
                1,
                "target packets - 1 ~ Poisson(max(bytes / mean packet size - 1, 0)) given bytes "
                "(randomised PIT vs Uniform(0, 1))",
            ),
        )


def _rates(size_bytes: NDArray[np.int64], protocols: list[str]) -> NDArray[np.float64]:
    """The Poisson rate of extra packets beyond the first, given each flow's bytes."""
    mean_packet = np.array([FLOW_SIZE[p].mean_packet for p in protocols], dtype=np.float64)
    return np.asarray(np.maximum(size_bytes / mean_packet - 1.0, 0.0), dtype=np.float64)


def _bytes_cdf(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """CDF of bytes: the protocol-weighted mixture of each protocol's floored log-normal."""
    weights = PROTOCOL.probabilities()
    return np.asarray(
        sum(weights[name] * flow.bytes.cdf(values) for name, flow in FLOW_SIZE.items()),
        dtype=np.float64,
    )


def _private(column: str) -> Extract:
    """Whether each address of `column` is in private space."""

    def extract(table: Table) -> list[bool]:
        return [ipaddress.ip_address(str(value)).is_private for value in table[column]]

    return extract
