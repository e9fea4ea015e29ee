"""Progressive deployments of a rule set: stages, gates, the controller, gateways, the enforced split."""
