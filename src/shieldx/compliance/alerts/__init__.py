"""Compliance alerts: raised once per condition, delivered to channels, acknowledged, escalated."""
