"""Region health, the six-step failover and failback, and their history."""
