"""Checks: each gathers evidence from the running platform and decides one condition."""
