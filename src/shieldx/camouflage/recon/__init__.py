"""Recon: classifying and recording each attempt, and sending the events on (sinks, webhooks)."""
