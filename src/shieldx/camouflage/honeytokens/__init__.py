"""Honeytokens: fresh credentials planted per session, and hearing when one is used."""
