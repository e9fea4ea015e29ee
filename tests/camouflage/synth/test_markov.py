"""The second-order chain: seen transitions only, exact length law, corpus lengths, prefix-stable."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldx.camouflage.synth.corpora import Corpus
from shieldx.camouflage.synth.markov import MarkovChain


def trigrams(word: str) -> set[str]:
    padded = f"\0\0{word}\0"
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


@pytest.fixture(scope="module")
def first_names() -> Corpus:
    return Corpus.bundled("first_names")


def test_tiny_chain_has_the_counted_probabilities() -> None:
    chain = MarkovChain.train(["aa", "aaa"])
    # (a, a) is followed by the end twice ("aa", "aaa") and by "a" once ("aaa").
    lengths = chain.length_distribution()
    assert lengths.tolist() == pytest.approx([0, 0, 2 / 3, 2 / 9])
    assert chain.max_length == 3


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_every_generated_transition_was_seen_in_training(first_names: Corpus, seed: int) -> None:
    seen = set().union(*(trigrams(word) for word in first_names.words))
    words = first_names.chain.sample(np.random.default_rng(seed), 300)
    complete = [word for word in words if len(word) < first_names.chain.max_length]
    assert len(complete) > 290
    for word in complete:
        assert trigrams(word) <= seen, word


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**64), head=st.integers(0, 60))
def test_the_first_words_do_not_depend_on_how_many_are_drawn(
    first_names: Corpus, seed: int, head: int
) -> None:
    chain = first_names.chain
    many = chain.sample(np.random.default_rng(seed), 200)
    assert chain.sample(np.random.default_rng(seed), head) == many[:head]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**64), count=st.integers(1, 400))
def test_batching_does_not_change_the_words(first_names: Corpus, seed: int, count: int) -> None:
    chain = first_names.chain
    together = chain.sample(np.random.default_rng(seed), count, together=True)
    in_turn = chain.sample(np.random.default_rng(seed), count, together=False)
    assert together == in_turn == chain.sample(np.random.default_rng(seed), count)


def test_a_generator_moves_on_between_calls(first_names: Corpus) -> None:
    rng = np.random.default_rng(4)
    first = first_names.chain.sample(rng, 20)
    assert first_names.chain.sample(rng, 20) != first
    assert first_names.chain.sample(np.random.default_rng(4), 20) == first


def test_length_distribution_predicts_plain_walks(first_names: Corpus) -> None:
    chain = first_names.chain
    uniforms = np.random.default_rng(5).random((40_000, chain.max_length + 1), dtype=np.float32)
    _, lengths, finished = chain._walk(uniforms)
    observed = np.bincount(lengths[finished], minlength=chain.max_length + 1) / len(lengths)
    assert np.abs(observed - chain.length_distribution()).max() < 0.01


def test_accepted_words_follow_the_corpus_lengths(first_names: Corpus) -> None:
    chain = first_names.chain
    words = chain.sample(np.random.default_rng(11), 30_000)
    size = chain.max_length + 1
    generated = np.bincount([len(w) for w in words], minlength=size) / len(words)
    corpus = np.bincount([len(w) for w in first_names.words], minlength=size) / len(
        first_names.words
    )
    assert 0.5 * np.abs(generated - corpus).sum() < 0.02
    # Without the correction the chain is far off: this is what the acceptance step fixes.
    assert 0.5 * np.abs(chain.length_distribution() - corpus).sum() > 0.2


def test_words_are_ascii_from_the_alphabet(first_names: Corpus) -> None:
    words = first_names.chain.sample(np.random.default_rng(3), 2_000)
    assert all(word and set(word) <= set(first_names.chain.alphabet) for word in words)
    assert max(len(word) for word in words) <= first_names.chain.max_length


def test_zero_words() -> None:
    assert MarkovChain.train(["abc"]).sample(np.random.default_rng(0), 0) == []


def test_a_single_word_corpus_reproduces_it() -> None:
    assert MarkovChain.train(["abc"]).sample(np.random.default_rng(0), 3) == ["abc"] * 3


@pytest.mark.parametrize(
    ("words", "message"),
    [([], "at least one"), ([""], "at least one"), (["café"], "ASCII")],
)
def test_training_rejects_unusable_corpora(words: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MarkovChain.train(words)


def test_the_trained_arrays_are_read_only(first_names: Corpus) -> None:
    with pytest.raises(ValueError, match="read-only"):
        first_names.chain.keys[0] = 0.0
