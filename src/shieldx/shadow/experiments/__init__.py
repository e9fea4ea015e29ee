"""A/B tests of two rule sets: definitions, in-memory tallies, Bayesian statistics, the report."""
