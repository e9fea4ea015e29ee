"""Ledger sharding: ring, shard map, sharded front, cross-shard transfers."""
