"""Low-balance alerts delivered to webhooks."""
