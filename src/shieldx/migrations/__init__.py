"""Alembic migrations; each component keeps its own branch under versions/<component>/."""
