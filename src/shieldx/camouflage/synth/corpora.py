"""The bundled training corpora (data/*.txt, made once with Faker) and their Markov chains."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Literal

from shieldx.camouflage.synth.markov import MarkovChain

CorpusName = Literal["usernames", "first_names", "surnames", "merchants"]
CORPUS_NAMES: tuple[CorpusName, ...] = ("usernames", "first_names", "surnames", "merchants")


def read_corpus(name: CorpusName) -> tuple[str, ...]:
    """The words of a bundled corpus, one per line, in file order."""
    if name not in CORPUS_NAMES:
        raise ValueError(f"corpus must be one of {', '.join(CORPUS_NAMES)} (got {name!r})")
    text = (
        resources.files("shieldx.camouflage.synth")
        .joinpath("data")
        .joinpath(f"{name}.txt")
        .read_text("ascii")
    )
    return tuple(line for line in text.splitlines() if line)


@dataclass(frozen=True, eq=False)
class Corpus:
    """A training corpus and the second-order character chain trained on it."""

    name: CorpusName
    words: tuple[str, ...]
    chain: MarkovChain
    source: str

    @classmethod
    def bundled(cls, name: CorpusName) -> Corpus:
        """Load a bundled corpus and train its chain (a few milliseconds)."""
        words = read_corpus(name)
        chain = MarkovChain.train(words)
        return cls(
            name, words, chain, f"bundled data/{name}.txt ({len(words)} entries, Faker-made)"
        )

    @classmethod
    def from_words(cls, name: CorpusName, words: tuple[str, ...]) -> Corpus:
        """Train on caller-supplied words instead of the bundled file."""
        chain = MarkovChain.train(words)
        return cls(name, words, chain, f"caller-supplied corpus ({len(words)} entries)")
