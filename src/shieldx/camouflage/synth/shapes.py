"""Identifiers and free text: learn their shape, never their values, and make fresh ones.

A shape writes each character as its class (`A` upper-case letter, `a` lower-case, `9`
digit) and keeps punctuation, so `INV-00042` becomes `AAA-99999`. Exact shapes are kept only
when those seen at least twice cover most values (a single row's shape could identify it);
otherwise runs are collapsed (`A-9`) and their lengths drawn from the column's run lengths.
UUIDs and hex digests are recognised as such. Free text keeps word counts and word lengths.
"""

from __future__ import annotations

import itertools
import re
import uuid
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from shieldx.camouflage.synth.fields import Fields, ModelError

MAX_SHAPES = 100
MAX_RUN = 64
CONSTANT_MIN = 10
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LOWER = "abcdefghijklmnopqrstuvwxyz"
DIGITS = "0123456789"
HEX = "0123456789abcdef"
VOWELS = "aeiou"
CONSONANTS = "bcdfghklmnprstvwz"
DIGIT = "9"
CLASSES = {"A": UPPER, "a": LOWER, DIGIT: DIGITS}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
INTEGER_KEY = re.compile(r"[1-9]\d{0,17}")
LEADING_ZERO = re.compile(r"(^|\D)0\d")
HEXTEXT = re.compile(r"[0-9a-f]{8,}|[0-9A-F]{8,}")


def char_class(char: str) -> str:
    """The class of a character in a shape; other characters stand for themselves (escaped)."""
    if char.isascii() and char.isupper():
        return "A"
    if char.isascii() and char.islower():
        return "a"
    if char.isascii() and char.isdigit():
        return "9"
    return "\\" + char


def shape_of(value: str) -> list[str]:
    """The class of each character."""
    return [char_class(char) for char in value]


def runs_of(value: str) -> list[tuple[str, int]]:
    """Consecutive characters of one class, as (class, length)."""
    runs: list[tuple[str, int]] = []
    for cls in shape_of(value):
        if runs and runs[-1][0] == cls and cls in CLASSES:
            runs[-1] = (cls, runs[-1][1] + 1)
        else:
            runs.append((cls, 1))
    return runs


def _histogram(values: Sequence[int]) -> dict[str, float]:
    """Counts of small integers as a JSON-ready mapping."""
    return {str(key): float(count) for key, count in sorted(Counter(values).items())}


class Histogram:
    """Integers with weights, drawn by inverting the cumulative weights."""

    def __init__(self, counts: dict[int, float]) -> None:
        self.keys = np.array(list(counts), dtype=np.int64)
        weights = np.array(list(counts.values()), dtype=np.float64)
        self.cumulative = np.cumsum(weights) / weights.sum()
        self.cumulative[-1] = 1.0

    def draw(self, rng: np.random.Generator, count: int) -> NDArray[np.int64]:
        """`count` values."""
        picks = np.searchsorted(self.cumulative, rng.random(count), side="right")
        return np.asarray(self.keys[np.minimum(picks, self.keys.size - 1)], dtype=np.int64)


def random_strings(
    rng: np.random.Generator, alphabet: str, lengths: NDArray[np.int64]
) -> list[str]:
    """One string per length, of characters drawn uniformly from `alphabet` (vectorised)."""
    if lengths.size == 0:
        return []
    width = max(int(lengths.max()), 1)
    chars = np.array(list(alphabet))[rng.integers(0, len(alphabet), size=(lengths.size, width))]
    return ["".join(row[:n]) for row, n in zip(chars.tolist(), lengths.tolist(), strict=True)]


def _read_histogram(fields: Fields, key: str, high: int) -> dict[int, float]:
    """A histogram of integers in [0, high] from a model file."""
    raw = fields.raw(key)
    if not isinstance(raw, dict) or not 1 <= len(raw) <= high + 1:
        raise ModelError(f"{fields.where(key)} must be an object of 1 to {high + 1} counts")
    table = Fields(raw, fields.where(key))
    result: dict[int, float] = {}
    for name in raw:
        if not str(name).isdigit() or int(name) > high:
            raise ModelError(f"{fields.where(key)} keys must be integers in [0, {high}]")
        result[int(name)] = table.number(name, low=0.0)
    if sum(result.values()) <= 0:
        raise ModelError(f"{fields.where(key)} must have a positive sum")
    return result


class Shape(ABC):
    """How fresh values of an identifier or text column are made."""

    kind: str

    @abstractmethod
    def generate(self, rng: np.random.Generator, count: int) -> list[str]:
        """`count` fresh values."""

    @abstractmethod
    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view (with `kind`)."""


class UuidShape(Shape):
    """Random (version 4) UUIDs, in the sample's case."""

    kind = "uuid"

    def __init__(self, upper: bool) -> None:
        self.upper = upper

    def generate(self, rng: np.random.Generator, count: int) -> list[str]:
        """Version 4 UUIDs from the seeded stream."""
        raw = rng.integers(0, 256, size=(count, 16), dtype=np.uint8)
        values = [str(uuid.UUID(bytes=row.tobytes(), version=4)) for row in raw]
        return [value.upper() for value in values] if self.upper else values

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {"kind": self.kind, "upper": self.upper}


class HexShape(Shape):
    """Hex strings (digests, tokens) with the sample's lengths."""

    kind = "hex"

    def __init__(self, lengths: dict[int, float], upper: bool) -> None:
        self.lengths, self.upper = lengths, upper
        self._lengths = Histogram(lengths)

    def generate(self, rng: np.random.Generator, count: int) -> list[str]:
        """Random hex digits."""
        digits = HEX.upper() if self.upper else HEX
        return random_strings(rng, digits, self._lengths.draw(rng, count))

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {"kind": self.kind, "upper": self.upper, "lengths": _dump(self.lengths)}


class SequenceShape(Shape):
    """Integer keys that count up (auto-increment ids): generated ones go on past the last."""

    kind = "sequence"

    def __init__(self, start: int) -> None:
        self.start = start

    def generate(self, rng: np.random.Generator, count: int) -> list[str]:
        """The next `count` keys (new keys never meet the sample's)."""
        del rng
        return [str(self.start + i) for i in range(count)]

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {"kind": self.kind, "start": self.start}


class PatternShape(Shape):
    """Shapes of characters; with `runs`, collapsed shapes whose run lengths are drawn."""

    kind = "pattern"

    def __init__(
        self,
        shapes: dict[str, float],
        runs: dict[str, dict[int, float]] | None = None,
        leading_zero: bool = True,
    ) -> None:
        self.shapes, self.runs, self.leading_zero = shapes, runs, leading_zero
        self._parsed = [_split(shape) for shape in shapes]
        self._pick = Histogram(dict(enumerate(shapes.values())))
        self._runs = None if runs is None else {cls: Histogram(h) for cls, h in runs.items()}

    def generate(self, rng: np.random.Generator, count: int) -> list[str]:
        """Fill drawn shapes with random characters of each class (one shape at a time)."""
        picks = self._pick.draw(rng, count)
        out = [""] * count
        for shape in np.unique(picks).tolist():
            rows = np.flatnonzero(picks == shape).tolist()
            parts: list[list[str]] = []
            previous = ""
            for token in self._parsed[shape]:
                alphabet = CLASSES.get(token)
                if alphabet is None:
                    parts.append([token[-1]] * len(rows))
                    previous = token
                    continue
                lengths = (
                    np.ones(len(rows), dtype=np.int64)
                    if self._runs is None
                    else self._runs[token].draw(rng, len(rows))
                )
                if token == DIGIT and previous != DIGIT and not self.leading_zero:
                    # The sample writes no number with a leading zero: neither do we.
                    first = random_strings(rng, DIGITS[1:], np.ones(len(rows), dtype=np.int64))
                    rest = random_strings(rng, alphabet, lengths - 1)
                    parts.append([a + b for a, b in zip(first, rest, strict=True)])
                else:
                    parts.append(random_strings(rng, alphabet, lengths))
                previous = token
            for row, value in zip(rows, map("".join, zip(*parts, strict=True)), strict=True):
                out[row] = value
        return out

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        runs = None if self.runs is None else {k: _dump(v) for k, v in self.runs.items()}
        return {
            "kind": self.kind,
            "shapes": dict(self.shapes),
            "runs": runs,
            "leading_zero": self.leading_zero,
        }


class TextShape(Shape):
    """Words of pronounceable letters with the sample's word counts and word lengths."""

    kind = "text"

    def __init__(self, words: dict[int, float], lengths: dict[int, float], capital: float) -> None:
        self.words, self.lengths, self.capital = words, lengths, capital
        self._words, self._lengths = Histogram(words), Histogram(lengths)

    def generate(self, rng: np.random.Generator, count: int) -> list[str]:
        """Sentences of made-up words (consonants and vowels alternate)."""
        counts = self._words.draw(rng, count)
        lengths = self._lengths.draw(rng, int(counts.sum()))
        consonants = random_strings(rng, CONSONANTS, lengths)
        vowels = random_strings(rng, VOWELS, lengths)
        words = [_mix(a, b) for a, b in zip(consonants, vowels, strict=True)]
        capital = (rng.random(count) < self.capital).tolist()
        values, start = [], 0
        for n, upper in zip(counts.tolist(), capital, strict=True):
            chosen = words[start : start + n]
            start += n
            if chosen and upper:
                chosen[0] = chosen[0].capitalize()
            values.append(" ".join(chosen))
        return values

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready view."""
        return {
            "kind": self.kind,
            "words": _dump(self.words),
            "lengths": _dump(self.lengths),
            "capital": self.capital,
        }


def _mix(consonants: str, vowels: str) -> str:
    """A word of the given length: consonant, vowel, consonant, …"""
    return "".join(
        c if i % 2 == 0 else v for i, (c, v) in enumerate(zip(consonants, vowels, strict=True))
    )


def _dump(histogram: dict[int, float]) -> dict[str, float]:
    """A histogram with string keys (JSON objects have string keys)."""
    return {str(k): v for k, v in histogram.items()}


def _split(shape: str) -> list[str]:
    """The tokens of a shape string: classes, and literal characters with their backslash."""
    tokens, i = [], 0
    while i < len(shape):
        if shape[i] == "\\" and i + 1 < len(shape):
            tokens.append(shape[i : i + 2])
            i += 2
        else:
            tokens.append(shape[i])
            i += 1
    return tokens


def _constants(shape: str, group: Sequence[str]) -> str:
    """The shape with characters that every value of a large group shares kept as literals.

    A prefix such as `CUS-` in every one of CONSTANT_MIN or more values names no row.
    """
    if len(group) < CONSTANT_MIN:
        return shape
    tokens = _split(shape)
    out = []
    for i, token in enumerate(tokens):
        chars = {value[i] for value in group}
        if token in CLASSES and len(chars) == 1:
            out.append("\\" + chars.pop())
        else:
            out.append(token)
    return "".join(out)


def fit_identifier(values: Sequence[str]) -> Shape:
    """The shape of an identifier column's (non-empty) values."""
    if len(values) >= 2 and all(INTEGER_KEY.fullmatch(v) for v in values):
        numbers = [int(v) for v in values]
        if all(a < b for a, b in itertools.pairwise(numbers)):
            return SequenceShape(numbers[-1] + 1)
    leading_zero = any(LEADING_ZERO.search(v) for v in values)
    if values and all(UUID.fullmatch(v) for v in values):
        return UuidShape(upper=any(v != v.lower() for v in values))
    if values and all(HEXTEXT.fullmatch(v) for v in values):
        upper = any(v != v.lower() for v in values)
        return HexShape({int(k): c for k, c in _histogram([len(v) for v in values]).items()}, upper)
    groups: dict[str, list[str]] = {}
    for value in values:
        groups.setdefault("".join(shape_of(value)), []).append(value)
    common = sorted(groups.items(), key=lambda kv: -len(kv[1]))[:MAX_SHAPES]
    shared = {
        _constants(shape, group): float(len(group)) for shape, group in common if len(group) >= 2
    }
    if sum(shared.values()) >= 0.5 * len(values):
        return PatternShape(shared, leading_zero=leading_zero)
    collapsed: Counter[str] = Counter()
    lengths: dict[str, list[int]] = {cls: [] for cls in CLASSES}
    for value in values:
        runs = runs_of(value)
        collapsed["".join(cls for cls, _ in runs)] += 1
        for cls, n in runs:
            if cls in lengths:
                lengths[cls].append(min(n, MAX_RUN))
    runs_hist = {
        cls: {int(k): c for k, c in _histogram(found or [1]).items()}
        for cls, found in lengths.items()
    }
    shapes = {shape: float(n) for shape, n in collapsed.most_common(MAX_SHAPES)} or {"a": 1.0}
    return PatternShape(shapes, runs_hist, leading_zero)


def fit_text(values: Sequence[str]) -> Shape:
    """The shape of a free-text column's (non-empty) values."""
    words = [value.split() for value in values]
    counts = [min(len(w), 200) for w in words] or [1]
    lengths = [min(len(word), 30) for w in words for word in w] or [5]
    capital = sum(bool(w) and w[0][:1].isupper() for w in words) / max(len(words), 1)
    return TextShape(
        {int(k): c for k, c in _histogram(counts).items()},
        {int(k): c for k, c in _histogram(lengths).items()},
        capital,
    )


def shape_from_dict(raw: object, path: str) -> Shape:
    """A shape read back from a model file, checked."""
    fields = Fields(raw, path)
    kind = fields.text("kind")
    if kind == "uuid":
        return UuidShape(bool(fields.raw("upper")))
    if kind == "sequence":
        return SequenceShape(fields.integer("start", high=10**18))
    if kind == "hex":
        return HexShape(_read_histogram(fields, "lengths", 4096), bool(fields.raw("upper")))
    if kind == "text":
        return TextShape(
            _read_histogram(fields, "words", 200),
            _read_histogram(fields, "lengths", 30),
            fields.number("capital", low=0.0, high=1.0),
        )
    if kind == "pattern":
        shapes_raw = Fields(fields.raw("shapes"), fields.where("shapes"))
        if not 1 <= len(shapes_raw.value) <= MAX_SHAPES:
            raise ModelError(f"{fields.where('shapes')} must have 1 to {MAX_SHAPES} shapes")
        shapes = {
            str(name): shapes_raw.number(name, low=0.0)
            for name in shapes_raw.value
            if len(name) < 4096
        }
        if len(shapes) != len(shapes_raw.value) or sum(shapes.values()) <= 0:
            raise ModelError(f"{fields.where('shapes')} must map shapes to positive counts")
        runs_raw = fields.raw("runs")
        runs = None
        if runs_raw is not None:
            table = Fields(runs_raw, fields.where("runs"), allowed=tuple(CLASSES))
            runs = {cls: _read_histogram(table, cls, MAX_RUN) for cls in CLASSES}
        leading_zero = fields.raw("leading_zero")
        if not isinstance(leading_zero, bool):
            raise ModelError(f"{fields.where('leading_zero')} must be true or false")
        return PatternShape(shapes, runs, leading_zero)
    raise ModelError(
        f"{fields.where('kind')} must be uuid, sequence, hex, pattern or text (got {kind!r})"
    )
