"""Flow records: protocol-consistent ports and ICMP fields, addresses by direction, sane sizes."""

from __future__ import annotations

import ipaddress
from collections import Counter

import numpy as np
import pytest

from shieldx.camouflage.synth.base import Record, parse_iso
from shieldx.camouflage.synth.traffic import (
    DST_PRIVATE,
    FLOW_SIZE,
    MTU,
    SERVICE_PORT,
    SRC_PRIVATE,
    FlowGenerator,
)


@pytest.fixture(scope="module")
def flows() -> list[Record]:
    return list(FlowGenerator.bundled().iter_records(seed=99, count=20_000))


def test_protocol_mix_is_70_25_5(flows: list[Record]) -> None:
    shares = Counter(flow["protocol"] for flow in flows)
    assert shares["TCP"] / len(flows) == pytest.approx(0.70, abs=0.015)
    assert shares["UDP"] / len(flows) == pytest.approx(0.25, abs=0.015)
    assert shares["ICMP"] / len(flows) == pytest.approx(0.05, abs=0.006)


def test_ports_and_icmp_fields_follow_the_protocol(flows: list[Record]) -> None:
    for flow in flows:
        if flow["protocol"] == "ICMP":
            assert flow["src_port"] is None and flow["dst_port"] is None
            assert flow["icmp_type"] in {0, 3, 8, 11} and flow["icmp_code"] is not None
        else:
            assert 49152 <= int(flow["src_port"]) <= 65535  # type: ignore[arg-type]
            assert flow["dst_port"] in SERVICE_PORT.children[flow["protocol"]].weights
            assert flow["icmp_type"] is None and flow["icmp_code"] is None


def test_addresses_sit_where_the_direction_says(flows: list[Record]) -> None:
    for flow in flows:
        source = ipaddress.ip_address(str(flow["src_ip"]))
        target = ipaddress.ip_address(str(flow["dst_ip"]))
        assert source.is_private == (flow["direction"] in SRC_PRIVATE)
        assert target.is_private == (flow["direction"] in DST_PRIVATE)
        assert source.is_private or source.is_global
        assert target.is_private or target.is_global


def test_bytes_and_packets_are_consistent(flows: list[Record]) -> None:
    for flow in flows:
        packets, size = int(flow["packets"]), int(flow["bytes"])  # type: ignore[arg-type]
        header = FLOW_SIZE[str(flow["protocol"])].header
        assert packets >= 1
        assert packets * header <= size <= packets * MTU


def test_bytes_are_heavy_tailed_per_protocol(flows: list[Record]) -> None:
    for protocol, flow_size in FLOW_SIZE.items():
        sizes = [int(f["bytes"]) for f in flows if f["protocol"] == protocol]  # type: ignore[arg-type]
        median = sorted(sizes)[len(sizes) // 2]
        assert median == pytest.approx(flow_size.bytes.median, rel=0.12)
    tcp = np.array([f["bytes"] for f in flows if f["protocol"] == "TCP"], dtype=float)
    assert tcp.mean() > 3 * np.median(tcp)


def test_timestamps_increase_at_the_target_rate(flows: list[Record]) -> None:
    gaps = np.diff(parse_iso([flow["timestamp"] for flow in flows])) / 1e6
    assert (gaps >= 0).all()
    assert gaps.mean() == pytest.approx(0.002, rel=0.05)
