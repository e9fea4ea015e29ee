"""Experiments in Chaos Toolkit's format: parsing, the run loop, storage, routes."""
