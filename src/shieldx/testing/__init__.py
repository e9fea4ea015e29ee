"""Test support shipped with the package: a throwaway PostgreSQL, live servers, pytest fixtures."""
