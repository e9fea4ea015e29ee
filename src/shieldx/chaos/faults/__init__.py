"""The faults themselves: a TCP proxy, HTTP delays and aborts, signals, resource pressure."""
