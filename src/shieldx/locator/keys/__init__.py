"""Signing keys: the in-memory key set, rotation and the published JWKS."""
