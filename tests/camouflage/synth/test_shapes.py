"""Identifiers and free text: fresh values of the sample's shape, never the sample's values."""

from __future__ import annotations

import re
import uuid

import numpy as np
import orjson
import pytest

from shieldx.camouflage.synth.fields import ModelError
from shieldx.camouflage.synth.shapes import (
    HexShape,
    PatternShape,
    SequenceShape,
    TextShape,
    UuidShape,
    fit_identifier,
    fit_text,
    shape_from_dict,
)


def rng() -> np.random.Generator:
    return np.random.default_rng(5)


def round_trip(shape: object) -> object:
    return shape_from_dict(orjson.loads(orjson.dumps(shape.to_dict())), "shape")  # type: ignore[attr-defined]


def test_codes_keep_their_shape_and_shared_prefix_but_not_their_values() -> None:
    real = [f"INV-{i:05d}" for i in range(0, 4000, 7)]
    shape = fit_identifier(real)
    assert isinstance(shape, PatternShape) and shape.runs is None
    made = shape.generate(rng(), 500)
    assert all(re.fullmatch(r"INV-\d{5}", value) for value in made)
    again = round_trip(shape)
    assert isinstance(again, PatternShape)
    assert again.generate(rng(), 500) == made


def test_unique_shapes_are_collapsed_to_runs() -> None:
    real = [f"{'x' * (i % 17 + 1)}.{'y' * (i % 13 + 1)}{i}@host{i % 5}.org" for i in range(300)]
    shape = fit_identifier(real)
    assert isinstance(shape, PatternShape) and shape.runs is not None
    made = shape.generate(rng(), 300)
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d+@[a-z]+\d+\.[a-z]+", value) for value in made)
    assert not set(made) & set(real)
    assert isinstance(round_trip(shape), PatternShape)


def test_uuids_and_hex_digests() -> None:
    uuids = fit_identifier([str(uuid.UUID(int=i * 7919 + 1, version=4)) for i in range(50)])
    assert isinstance(uuids, UuidShape)
    made = uuids.generate(rng(), 20)
    assert all(uuid.UUID(value).version == 4 for value in made)
    digests = fit_identifier([f"{i * 2654435761:016x}" for i in range(1, 60)])
    assert isinstance(digests, HexShape)
    assert all(re.fullmatch(r"[0-9a-f]{16}", value) for value in digests.generate(rng(), 20))
    assert isinstance(round_trip(uuids), UuidShape) and isinstance(round_trip(digests), HexShape)


def test_text_keeps_word_counts_and_lengths() -> None:
    real = ["Called about the bill", "moved abroad last year", "Wants annual billing now please"]
    shape = fit_text(real * 10)
    assert isinstance(shape, TextShape)
    made = shape.generate(rng(), 200)
    assert {len(value.split()) for value in made} <= {3, 4, 5}
    assert not set(made) & set(real)
    assert isinstance(round_trip(shape), TextShape)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"kind": "regex"}, "must be uuid, sequence, hex, pattern or text"),
        ({"kind": "pattern", "shapes": {}, "runs": None}, "1 to 100 shapes"),
        ({"kind": "pattern", "shapes": {"a": 1}, "runs": None, "leading_zero": 1}, "true or false"),
        ({"kind": "sequence", "start": -1}, "start must be an integer"),
        ({"kind": "pattern", "shapes": {"a": -1}, "runs": None}, "finite number in"),
        ({"kind": "hex", "upper": False, "lengths": {"x": 1}}, "keys must be integers"),
        ({"kind": "text", "words": {"1": 1}, "lengths": {"3": 1}, "capital": 2}, "capital"),
        ([], "must be an object"),
    ],
)
def test_bad_shapes_are_refused(raw: object, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        shape_from_dict(raw, "shape")


def test_counting_keys_go_on_past_the_last_one() -> None:
    shape = fit_identifier([str(i) for i in range(1, 501)])
    assert isinstance(shape, SequenceShape)
    assert shape.generate(rng(), 3) == ["501", "502", "503"]
    assert isinstance(round_trip(shape), SequenceShape)


def test_numbers_get_a_leading_zero_only_if_the_sample_has_one() -> None:
    real = [str(n) for n in np.random.default_rng(1).permutation(np.arange(100, 999))[:300]]
    made = fit_identifier(real).generate(rng(), 2000)
    assert all(re.fullmatch(r"[1-9]\d\d", value) for value in made)
    codes = fit_identifier([f"{n:03d}" for n in range(0, 900, 3)]).generate(rng(), 2000)
    assert any(value.startswith("0") for value in codes)
