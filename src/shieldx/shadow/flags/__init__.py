"""Feature flags (OpenFeature-shaped): definitions, targeting contexts, evaluation, storage, routes."""
