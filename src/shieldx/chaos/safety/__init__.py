"""Safety rules: when an experiment may start and when it must be halted."""
