from __future__ import annotations

import pytest

from shieldx.shadow.experiments.sketch import REGISTERS, STANDARD_ERROR, DistinctSketch


def test_small_counts_are_nearly_exact_and_repeats_do_not_count() -> None:
    sketch = DistinctSketch()
    assert not sketch and sketch.estimate() == 0
    for _ in range(3):
        for i in range(50):
            sketch.add(f"10.0.0.{i}")
    assert round(sketch.estimate()) == 50


@pytest.mark.parametrize("count", [5_000, 60_000])
def test_large_counts_are_within_four_standard_errors(count: int) -> None:
    sketch = DistinctSketch()
    for i in range(count):
        sketch.add(f"198.{i >> 16}.{(i >> 8) & 255}.{i & 255}")
    assert abs(sketch.estimate() - count) / count < 4 * STANDARD_ERROR


def test_merging_equals_one_sketch_seeing_everything() -> None:
    a, b, both = DistinctSketch(), DistinctSketch(), DistinctSketch()
    for i in range(3000):
        (a if i % 2 else b).add(str(i))
        both.add(str(i))
    a.merge(b.to_bytes())
    assert a.to_bytes() == both.to_bytes()
    assert DistinctSketch(a.to_bytes()).estimate() == both.estimate()
    with pytest.raises(ValueError, match=str(REGISTERS)):
        DistinctSketch(b"\x00" * 10)
