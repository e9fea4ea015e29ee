"""Chaos engineering: faults with dead-man timeouts, safety limits and automatic rollback.

`shieldx.chaos.actions` and `shieldx.chaos.probes` are a Chaos Toolkit extension; the engine
itself (experiments/, safety/, faults/) is served on the credits port.
"""
