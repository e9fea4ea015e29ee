"""`shieldx bench credits`: throughput and latency of the writer, replay, and HTTP."""
