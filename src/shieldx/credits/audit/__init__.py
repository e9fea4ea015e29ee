"""Verification: the hash chain, the derived rows (deep), and the route that runs it."""
