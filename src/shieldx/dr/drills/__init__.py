"""Measured failovers under a running credits load (`shieldx dr drill`)."""
