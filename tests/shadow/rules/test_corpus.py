from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shieldx.shadow.rules.corpus import generate_corpus
from shieldx.shadow.rules.records import AttackType, Label, normalize_record


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 200))
def test_the_same_seed_gives_the_same_records(seed: int, count: int) -> None:
    assert generate_corpus(count, seed=seed) == generate_corpus(count, seed=seed)


def test_a_known_seed_gives_a_pinned_corpus() -> None:
    # Benchmarks and docs quote figures on this corpus: a change to the generator must be deliberate.
    corpus = generate_corpus(200, seed=7)
    text = json.dumps([[t.label, t.attack_type, t.record] for t in corpus], sort_keys=True)
    assert hashlib.sha256(text.encode()).hexdigest() == (
        "78c175e030defa98348b82e0ed966a5a77f90f4b1379f7119dd93bab5fd74e95"
    )
    assert generate_corpus(50, seed=1) != generate_corpus(50, seed=2)


def test_labels_and_attack_types() -> None:
    corpus = generate_corpus(4000, seed=11, attack_share=0.3)
    labels = Counter(t.label for t in corpus)
    assert 0.26 < labels[Label.MALICIOUS] / len(corpus) < 0.34
    assert {t.attack_type for t in corpus if t.label is Label.MALICIOUS} == set(AttackType)
    assert all(t.attack_type is None for t in corpus if t.label is Label.BENIGN)
    assert all(normalize_record(t.record) == t.record for t in corpus)


def test_benign_traffic_contains_the_hard_cases() -> None:
    queries = {t.record["query"] for t in generate_corpus(3000) if t.label is Label.BENIGN}
    assert any("select+comfort" in q for q in queries)
    assert any("o%27brien" in q for q in queries)


@pytest.mark.parametrize(("count", "share"), [(-1, 0.2), (10, 1.5)])
def test_bad_arguments(count: int, share: float) -> None:
    with pytest.raises(ValueError, match="count"):
        generate_corpus(count, attack_share=share)
