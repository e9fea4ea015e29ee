"""Deterministic replay of recorded traffic through rule sets, and its files (`shieldx shadow replay`)."""
