"""The state every locator process shares: keys, revocations and their version counters."""
