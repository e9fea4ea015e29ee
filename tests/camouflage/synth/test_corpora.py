"""The bundled corpora: present, clean ASCII, unique, and loadable by name only."""

from __future__ import annotations

import re

import pytest

from shieldx.camouflage.synth.corpora import CORPUS_NAMES, Corpus, read_corpus

PATTERNS = {
    "usernames": r"[a-z][a-z0-9._-]*[a-z0-9]",
    "first_names": r"[a-z][a-z'-]*[a-z]",
    "surnames": r"[a-z][a-z'-]*[a-z]",
    "merchants": r"[A-Za-z0-9][A-Za-z0-9 &',.-]*[A-Za-z0-9.]",
}


@pytest.mark.parametrize("name", CORPUS_NAMES)
def test_each_corpus_is_a_sorted_set_of_clean_entries(name: str) -> None:
    words = read_corpus(name)  # type: ignore[arg-type]
    assert len(words) >= 4_000
    assert list(words) == sorted(set(words))
    pattern = re.compile(PATTERNS[name])
    assert all(pattern.fullmatch(word) for word in words)


def test_unknown_corpora_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="corpus must be one of"):
        read_corpus("../../etc/passwd")  # type: ignore[arg-type]


def test_a_bundled_corpus_comes_with_its_chain_and_source() -> None:
    corpus = Corpus.bundled("surnames")
    assert corpus.chain.max_length == max(len(word) for word in corpus.words)
    assert "data/surnames.txt" in corpus.source


def test_a_caller_can_train_on_other_words() -> None:
    corpus = Corpus.from_words("usernames", ("alpha", "beta"))
    assert corpus.source.startswith("caller-supplied")
    assert set("".join(corpus.words)) >= set(corpus.chain.alphabet)
