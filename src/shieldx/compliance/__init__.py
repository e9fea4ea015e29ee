"""Compliance: controls checked against the running platform, evidence, scores, alerts, reports."""
