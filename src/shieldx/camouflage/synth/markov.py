"""Second-order character Markov chains, trained on a corpus and sampled in numpy batches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

# Symbol 0 is the word boundary: two of them open a word, one closes it.
BOUNDARY = 0
# Tries per word before the last try is kept unaccepted; with acceptance rates of 0.33-0.4
# that happens with probability 0.6 ** 16 to 0.67 ** 16 (3e-4 to 2e-3).
ATTEMPTS = 16
# Each attempt's candidates start this many 64-bit draws apart in the candidate stream.
ATTEMPT_SPACING = 2**40
# Up to this many candidates (count * ATTEMPTS) are walked in one batch.
TOGETHER_LIMIT = 4096
# Buckets per state in the guide table that starts each lookup near its answer (a power of
# two, so bucket edges are exact in floating point).
GUIDE_BUCKETS = 32
FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class MarkovChain:
    """A second-order character chain, P(next char | previous two), fitted by counting.

    Sampling adds one correction: a plain chain ends words with a geometric-looking length
    distribution (too many 3-letter and 30-letter names), so each drawn word is accepted
    with a probability proportional to corpus share / chain share of its length. That is
    rejection sampling, so accepted words have the corpus's length distribution while
    every transition stays one seen in training.
    """

    alphabet: str
    keys: FloatArray
    states: IntArray
    successors: IntArray
    probabilities: FloatArray
    acceptance: FloatArray
    guide: NDArray[np.int32]

    @property
    def max_length(self) -> int:
        """The longest word the chain emits (the longest training word)."""
        return len(self.acceptance) - 1

    @classmethod
    def train(cls, words: Iterable[str]) -> MarkovChain:
        """Count every (a, b) -> c transition of the words, boundaries included."""
        corpus = [word for word in words if word]
        if not corpus:
            raise ValueError("a Markov chain needs at least one non-empty training word")
        alphabet = "".join(sorted(set("".join(corpus))))
        if not alphabet.isascii() or "\0" in alphabet:
            raise ValueError("training words must be ASCII without NUL (fold accents first)")
        lookup = np.zeros(128, dtype=np.int64)
        lookup[[ord(char) for char in alphabet]] = np.arange(1, len(alphabet) + 1)
        size = len(alphabet) + 1
        padded = "".join(f"\0\0{word}\0" for word in corpus)
        symbols = lookup[np.frombuffer(padded.encode("ascii"), dtype=np.uint8)]
        # A triple straddling two words has the next word's opening boundary in its
        # middle or last place; those are not transitions.
        starts = np.cumsum([0] + [len(word) + 3 for word in corpus[:-1]])
        valid = np.ones(len(symbols) - 2, dtype=bool)
        for shift in (1, 2):
            straddling = starts - shift
            valid[straddling[straddling >= 0]] = False
        first, second, third = symbols[:-2][valid], symbols[1:-1][valid], symbols[2:][valid]
        triples, counts = np.unique((first * size + second) * size + third, return_counts=True)
        states, successors = np.divmod(triples, size)
        _, group_start, group_size = np.unique(states, return_index=True, return_counts=True)
        totals = np.repeat(np.add.reduceat(counts, group_start), group_size)
        probabilities = counts / totals
        # keys = state + cumulative probability within the state: one sorted array for all
        # states, so a whole batch moves one character with a single searchsorted.
        within = np.cumsum(probabilities) - np.repeat(
            np.cumsum(probabilities)[group_start] - probabilities[group_start], group_size
        )
        within[group_start + group_size - 1] = 1.0
        keys = states + within
        max_length = max(len(word) for word in corpus)
        # guide[s * GUIDE_BUCKETS + b] = first key above s + b / GUIDE_BUCKETS: a lookup for
        # u in bucket b starts there and steps forward, instead of a binary search.
        edges = np.arange(size * size * GUIDE_BUCKETS) / GUIDE_BUCKETS
        guide = np.searchsorted(keys, edges, side="right").astype(np.int32)
        plain = cls(
            alphabet, keys, states, successors, probabilities, np.ones(max_length + 1), guide
        )
        corpus_share = np.bincount([len(word) for word in corpus], minlength=max_length + 1)
        chain_share = plain.length_distribution()
        ratio = np.divide(
            corpus_share / len(corpus),
            chain_share,
            out=np.zeros(max_length + 1),
            where=chain_share > 0,
        )
        acceptance = ratio / ratio.max()
        for array in (keys, states, successors, probabilities, acceptance, guide):
            array.flags.writeable = False
        return cls(alphabet, keys, states, successors, probabilities, acceptance, guide)

    def length_distribution(self) -> FloatArray:
        """P(a plain, uncorrected walk ends after exactly n characters), n = 0..max_length."""
        size = len(self.alphabet) + 1
        mass: FloatArray = np.zeros(size * size)
        mass[0] = 1.0
        ending = self.successors == BOUNDARY
        following = (self.states % size) * size + self.successors
        lengths = np.zeros(self.max_length + 1)
        for length in range(self.max_length + 1):
            flow = mass[self.states] * self.probabilities
            lengths[length] = flow[ending].sum()
            moved = np.bincount(following[~ending], weights=flow[~ending], minlength=size * size)
            mass = moved.astype(np.float64)
        return lengths

    def sample(
        self, rng: np.random.Generator, count: int, *, together: bool | None = None
    ) -> list[str]:
        """Draw `count` words; word i depends only on rng's state and i (prefix-stable).

        A rejected candidate is replaced by the next, up to ATTEMPTS; the last is kept
        regardless. Candidates are walked one attempt at a time (fast for many words) or
        all at once (fast for a few); `together` forces one way, and both give the same.
        """
        if count == 0:
            return []
        candidates = CandidateUniforms(rng, self.max_length + 2, count)
        if together is None:
            together = count * ATTEMPTS <= TOGETHER_LIMIT
        letters = (
            self._all_at_once(candidates, count) if together else self._in_turn(candidates, count)
        )
        words = letters.view(f"S{self.max_length}").ravel()
        return [word.decode("ascii") for word in words.tolist()]

    def _in_turn(self, candidates: CandidateUniforms, count: int) -> NDArray[np.uint8]:
        """Try every pending row's next candidate until all rows have a word."""
        letters = np.zeros((count, self.max_length), dtype=np.uint8)
        pending = np.arange(count)
        for attempt in range(ATTEMPTS):
            drawn, accepted = self._try(candidates.rows(attempt, pending))
            keep = accepted | (attempt == ATTEMPTS - 1)
            letters[pending[keep]] = drawn[keep]
            pending = pending[~keep]
            if pending.size == 0:
                break
        return letters

    def _all_at_once(self, candidates: CandidateUniforms, count: int) -> NDArray[np.uint8]:
        """Walk every candidate of every row in one batch and keep each row's first accepted."""
        rows = np.arange(count)
        uniforms = np.concatenate([candidates.rows(attempt, rows) for attempt in range(ATTEMPTS)])
        drawn, accepted = self._try(uniforms)
        accepted = accepted.reshape(ATTEMPTS, count)
        accepted[-1] = True
        chosen: NDArray[np.uint8] = drawn[accepted.argmax(axis=0) * count + rows]
        return chosen

    def _try(self, uniforms: NDArray[np.float32]) -> tuple[NDArray[np.uint8], NDArray[np.bool_]]:
        """Walk candidates; accept finished ones with their length's acceptance probability."""
        drawn, lengths, finished = self._walk(uniforms[:, : self.max_length + 1])
        accepted = finished & (uniforms[:, self.max_length + 1] < self.acceptance[lengths])
        return drawn, accepted

    def _walk(
        self, uniforms: NDArray[np.float32]
    ) -> tuple[NDArray[np.uint8], IntArray, NDArray[np.bool_]]:
        """Run the chain once per row: ASCII letters, lengths, and whether the word ended."""
        count, width = uniforms.shape[0], self.max_length
        size = len(self.alphabet) + 1
        table = np.frombuffer(("\0" + self.alphabet).encode("ascii"), dtype=np.uint8)
        by_position = np.ascontiguousarray(uniforms.T)
        letters = np.zeros((width, count), dtype=np.uint8)
        lengths = np.full(count, width, dtype=np.int64)
        finished = np.zeros(count, dtype=bool)
        # Only rows still writing are kept, compacted: their row numbers and (a, b) states.
        active = np.arange(count)
        state = np.zeros(count, dtype=np.int64)
        for position in range(width + 1):
            symbol = self.successors[self._next_key(state, by_position[position, active])]
            ending = symbol == BOUNDARY
            if ending.any():
                finished[active[ending]] = True
                lengths[active[ending]] = position
                going = ~ending
                active, state, symbol = active[going], state[going], symbol[going]
            if active.size == 0 or position == width:
                break
            letters[position, active] = table[symbol]
            state = (state % size) * size + symbol
        return np.ascontiguousarray(letters.T), lengths, finished

    def _next_key(self, state: IntArray, uniforms: NDArray[np.float32]) -> IntArray:
        """Index of the first key above state + u: where the transition lands."""
        target = state + uniforms.astype(np.float64)
        bucket = (uniforms * GUIDE_BUCKETS).astype(np.int64)
        found: IntArray = self.guide[state * GUIDE_BUCKETS + bucket].astype(np.int64)
        behind = np.flatnonzero(self.keys[found] <= target)
        while behind.size:
            found[behind] += 1
            behind = behind[self.keys[found[behind]] <= target[behind]]
        return found


class CandidateUniforms:
    """The uniforms of candidate `attempt` for row i, always at the same place in one stream.

    A candidate reads the same numbers however rows are batched, so a word never depends
    on how many other words are drawn with it. Rows start on whole 64-bit draws (an even
    stride of float32s), so a row can be read alone after PCG64's O(log n) advance.
    """

    def __init__(self, rng: np.random.Generator, width: int, count: int) -> None:
        self.width = width
        self.stride = width + width % 2
        if count * self.stride // 2 >= ATTEMPT_SPACING:
            raise ValueError(f"too many words in one call ({count}); sample in chunks")
        # One draw from the caller's stream seeds ours, so the next call differs.
        self._bits = np.random.PCG64(int(rng.integers(0, 2**63)))
        self._generator = np.random.Generator(self._bits)
        self._start = self._bits.state

    def rows(self, attempt: int, rows: IntArray) -> NDArray[np.float32]:
        """Uniforms for the given rows (ascending) of one attempt: shape (len(rows), width)."""
        if rows.size == 0:
            return np.empty((0, self.width), dtype=np.float32)
        offset = attempt * ATTEMPT_SPACING
        span = int(rows[-1]) + 1
        # Reading a block costs ~0.2 us a row spanned, seeking to a row alone ~5 us.
        if span <= 32 * rows.size:
            self._seek(offset)
            block = self._generator.random((span, self.stride), dtype=np.float32)
            return block[rows, : self.width]
        out = np.empty((rows.size, self.width), dtype=np.float32)
        for index, row in enumerate(rows.tolist()):
            self._seek(offset + row * self.stride // 2)
            out[index] = self._generator.random(self.width, dtype=np.float32)
        return out

    def _seek(self, draws: int) -> None:
        """Put the stream `draws` 64-bit outputs after its start."""
        self._bits.state = self._start
        self._bits.advance(draws)
