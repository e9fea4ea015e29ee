"""Shared fixtures come from the package's test support (shieldx.testing.fixtures)."""

pytest_plugins = ["shieldx.testing.fixtures"]
